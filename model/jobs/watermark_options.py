"""The watermark estimate's defaults, apart from the estimation code so that
the command line (``batch --sample``, ``watermark-mask --sample``) and the
app read them without loading numpy or OpenCV."""

MIN_PHOTOS = 5  # the fewest photos a mark is estimated from
SAMPLE = 100  # photos the mark is estimated from, by default (spread over the folder)
