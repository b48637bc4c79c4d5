"""Jobs over folders of photos: batch cleaning (``batch``: manifest, lock,
mask fitting), the shared-watermark mask estimate (``watermark``) and the
watermark restoration (``watermark_restore``)."""
