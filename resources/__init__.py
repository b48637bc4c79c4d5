"""The bundled files, installed as package data: the default weights
(default.pt), the VGG16 weights of the training losses (+ licence) and the
list of the default training photos. ``model.paths.RESOURCES`` is this folder."""
