"""Classes that are the identity at inference: Identity, dropout and noise, stochastic depth, data
augmentation."""
from ..base import Kind, passthrough


def identity_module(layer, where):
    from ..nn import Op
    return Op(lambda x: x)


_ANY = Kind(passthrough, identity_module)
_IMAGE = Kind(passthrough, identity_module, image=True)
KINDS = {name: _ANY for name in ("Identity", "StochasticDepth", "Dropout", "GaussianNoise", "GaussianDropout",
                                 "AlphaDropout")}  # StochasticDepth: keras.applications' own class
KINDS.update({name: _IMAGE for name in (
    "SpatialDropout2D", "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast",
    "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue",
    "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation",
    "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom")})
