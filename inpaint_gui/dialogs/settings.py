"""Preferences: fill method, device, weights file, brush size, context margin, texture, output format."""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QWidget)

from model.fill import FILLERS

from ..settings import FORMAT_POLICIES, Settings


def device_choices() -> list[tuple[str, str]]:
    """(value, label) for every device this machine offers (the core's list,
    as --device takes them; the bare "cuda" is left out: "cuda:N" names the card)."""
    from model.devices import available_devices

    return [(name, label) for name, label in available_devices() if name != "cuda"]


def device_combo(current: str) -> QComboBox:
    combo = QComboBox()
    for value, label in device_choices():
        combo.addItem(label, value)
    index = combo.findData(current)
    if index < 0:  # a saved device that is not here (e.g. a GPU removed): keep it visible
        combo.addItem(f"{current} (not available)", current)
        index = combo.count() - 1
    combo.setCurrentIndex(index)
    return combo


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings

        self.method = QComboBox()
        for name, entry in FILLERS.items():
            self.method.addItem(entry.label, name)
        index = self.method.findData(settings.method)
        if index < 0:  # a saved method this version does not have: keep it visible (loading it says why)
            self.method.addItem(f"{settings.method} (unknown)", settings.method)
            index = self.method.count() - 1
        self.method.setCurrentIndex(index)
        self.method.setToolTip("How the masked region is filled: the network, or a classical fill")
        self.device = device_combo(settings.device)
        self.weights = QLineEdit(settings.weights)
        self.weights.setPlaceholderText("bundled model (default)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self._browse_button = browse
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights, 1)
        weights_row.addWidget(browse)

        self.brush = QSpinBox()
        self.brush.setRange(1, 1000)
        self.brush.setSuffix(" px")
        self.brush.setValue(settings.brush_size)
        self.context = QDoubleSpinBox()
        self.context.setRange(0.1, 3.0)
        self.context.setSingleStep(0.1)
        self.context.setValue(settings.context)
        self.context.setToolTip("Context around each masked region, as a fraction of the region's size.\n"
                                "More context helps large objects on big photos; less is faster.")
        self.texture = QCheckBox("Fill with the photo's own texture (the refined result's texture step)")
        self.texture.setChecked(settings.texture)
        self.texture.setToolTip("On: the refined result copies grass, gravel, fur... from the photo under the\n"
                                "network's colours and shapes. Off: the network's smooth fill alone.")
        self.format = QComboBox()
        for value, label in FORMAT_POLICIES.items():
            self.format.addItem(label, value)
        self.format.setCurrentIndex(max(0, self.format.findData(settings.format_policy)))

        form = QFormLayout(self)
        form.addRow("Fill method:", self.method)
        form.addRow("Device:", self.device)
        form.addRow("Weights file:", weights_row)
        form.addRow("Default brush size:", self.brush)
        form.addRow("High-resolution context margin:", self.context)
        form.addRow("Texture:", self.texture)
        form.addRow("Save As format:", self.format)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.method.currentIndexChanged.connect(self._method_changed)
        self._method_changed()
        self.resize(520, self.sizeHint().height())

    def _method_changed(self) -> None:
        """Weights and the texture step are the network's: only for it."""
        network = self.method.currentData() == "network"
        for widget in (self.weights, self._browse_button, self.texture):
            widget.setEnabled(network)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model weights", self.weights.text(), "Checkpoints (*.pt *.pth)")
        if path:
            self.weights.setText(path)

    def apply(self) -> bool:
        """Store the values; True if the model must be reloaded."""
        s = self.settings
        reload = (self.method.currentData() != s.method or self.device.currentData() != s.device
                  or self.weights.text().strip() != s.weights
                  or abs(self.context.value() - s.context) > 1e-9 or self.texture.isChecked() != s.texture)
        s.method = self.method.currentData()
        s.device = self.device.currentData()
        s.weights = self.weights.text().strip()
        s.brush_size = self.brush.value()
        s.context = self.context.value()
        s.texture = self.texture.isChecked()
        s.format_policy = self.format.currentData()
        return reload
