"""One module per family of Keras layer classes. Each defines KINDS = {class name: Kind}: the class's
counting rule (output shape, Keras' parameters, MACs; never torch) and, beside it, its PyTorch module
(torch imported inside the function). darkbench.keras.layers collects them; adding a class is adding its
Kind to one of these modules (or a new module here)."""
