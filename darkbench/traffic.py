"""fp32 bytes a layer moves and its arithmetic intensity, shared by darknet's layer specs and Keras' layers."""


class Traffic:
    """Mixed into a layer with inputs, outputs, weight_floats and macs (extra_read: floats read besides)."""
    extra_read = 0

    @property
    def bytes_read(self):
        return 4 * (self.inputs + self.extra_read + self.weight_floats)

    @property
    def bytes_written(self):
        return 4 * self.outputs

    @property
    def intensity(self):
        """FLOPs (2 per MAC) per byte moved at fp32."""
        moved = self.bytes_read + self.bytes_written
        return 2 * self.macs / moved if moved else 0.0
