"""Jobs over folders of photos: batch cleaning (``batch``, which runs the
parts beside it: ``validation``, ``plan``, ``mask_fit``, ``manifest``,
``lock``, ``report``), the shared-watermark mask estimate (``watermark``) and
the watermark restoration (``watermark_restore``)."""
