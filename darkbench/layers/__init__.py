"""Registry: section name -> layer family module (build(), NAMES, KEYS)."""
from . import (activation, avgpool, batchnorm, connected, conv, cost, crnn, crop, deconv, detection,
               dropout, gru, l2norm, local, logistic, lstm, maxpool, normalization, region, reorg,
               rnn, route, shortcut, softmax, upsample, yolo)

FAMILIES = (conv, deconv, local, connected, maxpool, avgpool, dropout, softmax, cost, route, shortcut,
            upsample, reorg, yolo, region, detection, crop, batchnorm, normalization, l2norm,
            logistic, activation, rnn, gru, lstm, crnn)

REGISTRY = {name: fam for fam in FAMILIES for name in fam.NAMES}
