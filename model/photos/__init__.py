"""Photos on disk: reading photos and masks with their metadata (``imageio``),
writing results "like" their source (``savefile``), listing and naming photo
files (``files``) and atomic writes (``atomic``)."""
