/* Test harness over libdarknet's public API: shapes, saved files, random weights, per-layer outputs.
 * Built by tests/darknet.py at test time; written for darkbench's parity tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "darknet.h"

static float unif(float lo, float hi) { return lo + (hi - lo) * (rand() / (float)RAND_MAX); }

static void fill(float *a, int n, float lo, float hi) {
    if (!a) return;
    for (int i = 0; i < n; ++i) a[i] = unif(lo, hi);
}

static void randomize(layer *l) {
    int n = 0, nb = 0, nw = 0;
    switch (l->type) {
    case CONVOLUTIONAL: case DECONVOLUTIONAL: n = l->n; nb = l->n; nw = l->nweights; break;
    case CONNECTED: n = l->outputs; nb = l->outputs; nw = l->inputs * l->outputs; break;
    case LOCAL: n = l->n; nb = l->outputs; nw = l->c * l->n * l->size * l->size * l->out_w * l->out_h; break;
    case BATCHNORM: n = l->c; break;
    default: return;
    }
    float fan_in = nw / (float)(n ? n : 1);
    float r = fan_in > 0 ? sqrtf(3.0f / fan_in) : 1;
    if (l->type != BATCHNORM) { fill(l->biases, nb, -0.2f, 0.2f); fill(l->weights, nw, -r, r); }
    if (l->batch_normalize || l->type == BATCHNORM) {
        fill(l->scales, n, 0.5f, 1.5f);
        fill(l->rolling_mean, n, -0.2f, 0.2f);
        fill(l->rolling_variance, n, 0.5f, 1.5f);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: dkharness shapes|save0|save|forward CFG ...\n"); return 2; }
    char *cmd = argv[1];
    if (!strcmp(cmd, "shapes")) {
        network *net = parse_network_cfg(argv[2]);
        for (int i = 0; i < net->n; ++i) {
            layer l = net->layers[i];
            printf("%d %d %d %d %d %d %d\n", i, (int)l.type, l.out_c, l.out_h, l.out_w, l.outputs, l.inputs);
        }
        return 0;
    }
    if (!strcmp(cmd, "save0") && argc == 4) {
        network *net = parse_network_cfg(argv[2]);
        save_weights(net, argv[3]);
        return 0;
    }
    /* save CFG OUT SEED [GAIN]: GAIN scales the last weighted layer, so a classifier's softmax is peaked */
    if (!strcmp(cmd, "save") && (argc == 5 || argc == 6)) {
        network *net = parse_network_cfg(argv[2]);
        srand(atoi(argv[4]));
        int last = -1;
        for (int i = 0; i < net->n; ++i) {
            randomize(&net->layers[i]);
            if (net->layers[i].weights) last = i;
        }
        if (argc == 6 && last >= 0) {
            layer *l = &net->layers[last];
            int nw = l->type == CONNECTED ? l->inputs * l->outputs : l->nweights;
            for (int j = 0; j < nw; ++j) l->weights[j] *= atof(argv[5]);
        }
        save_weights(net, argv[3]);
        return 0;
    }
    /* forward CFG WEIGHTS INPUT OUTDIR: darknet reads the weights;
     * randforward CFG SEED OUTWEIGHTS INPUT OUTDIR: darknet makes and saves random weights itself
     * (darknet cannot load [deconvolutional] weights: its loader divides by l.groups, which is 0) */
    int rnd = !strcmp(cmd, "randforward") && argc == 7;
    if ((!strcmp(cmd, "forward") && argc == 6) || rnd) {
        network *net;
        if (rnd) {
            net = parse_network_cfg(argv[2]);
            srand(atoi(argv[3]));
            for (int i = 0; i < net->n; ++i) randomize(&net->layers[i]);
            save_weights(net, argv[4]);
            argv += 1;
        } else {
            net = load_network(argv[2], argv[3], 0);
        }
        set_batch_network(net, 1);
        /* a stand-alone [batchnorm] never allocates its x/x_norm buffers in darknet: give them one */
        for (int i = 0; i < net->n; ++i) {
            layer *l = &net->layers[i];
            if (l->type == BATCHNORM && !l->x) l->x = calloc(l->outputs * l->batch, sizeof(float));
            if (l->type == BATCHNORM && !l->x_norm) l->x_norm = calloc(l->outputs * l->batch, sizeof(float));
        }
        int n = net->inputs;
        float *x = calloc(n, sizeof(float));
        FILE *f = fopen(argv[4], "rb");
        if (!f || fread(x, sizeof(float), n, f) != (size_t)n) { fprintf(stderr, "bad input file\n"); return 3; }
        fclose(f);
        network_predict(net, x);
        for (int i = 0; i < net->n; ++i) {
            layer l = net->layers[i];
            char path[4096];
            snprintf(path, sizeof path, "%s/%d.bin", argv[5], i);
            FILE *o = fopen(path, "wb");
            if (l.output) fwrite(l.output, sizeof(float), l.outputs, o);
            fclose(o);
        }
        return 0;
    }
    fprintf(stderr, "bad arguments\n");
    return 2;
}
