/* Test harness over libdarknet's public API: shapes, saved files, random weights, per-layer outputs.
 * Built by tests/darknet.py at test time; written for darkbench's parity tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "darknet.h"

/* libc's rand() takes a lock per call and darknet calls it for every weight it initialises while
 * parsing (most of the time `shapes` takes on a big cfg). This definition replaces it for
 * libdarknet too: the values darknet draws change, nothing it computes from a cfg does. */
static unsigned long long state = 88172645463325252ULL;
int rand(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (int)((state >> 33) & RAND_MAX);
}
void srand(unsigned seed) { state = 88172645463325252ULL ^ (seed * 0x9E3779B97F4A7C15ULL); if (!state) state = 1; }

static float unif(float lo, float hi) { return lo + (hi - lo) * (rand() / (float)RAND_MAX); }

static void fill(float *a, int n, float lo, float hi) {
    if (!a) return;
    for (int i = 0; i < n; ++i) a[i] = unif(lo, hi);
}

static void randomize(layer *l);

/* rnn/gru/lstm/crnn keep their weights in inner connected/convolutional layers */
static void randomize_inner(layer *l) {
    layer *inner[] = {l->input_layer, l->self_layer, l->output_layer, l->reset_layer, l->update_layer,
                      l->state_layer, l->input_gate_layer, l->state_gate_layer, l->input_save_layer,
                      l->state_save_layer, l->input_state_layer, l->state_state_layer, l->input_z_layer,
                      l->state_z_layer, l->input_r_layer, l->state_r_layer, l->input_h_layer,
                      l->state_h_layer, l->wz, l->uz, l->wr, l->ur, l->wh, l->uh, l->uo, l->wo, l->uf,
                      l->wf, l->ui, l->wi, l->ug, l->wg};
    for (size_t i = 0; i < sizeof inner / sizeof *inner; ++i)
        if (inner[i]) randomize(inner[i]);
}

/* Non-trivial values everywhere: biases, scales and means away from 0/1, variances positive,
 * weights uniform with variance 1/fan_in so deep nets keep their activations in range. */
static void randomize(layer *l) {
    int n = 0, nb = 0, nw = 0, fan_in = 1;
    switch (l->type) {
    case CONVOLUTIONAL: case DECONVOLUTIONAL:
        n = l->n; nb = l->n; nw = l->nweights; fan_in = l->n ? l->nweights / l->n : 1; break;
    case CONNECTED: n = l->outputs; nb = l->outputs; nw = l->inputs * l->outputs; fan_in = l->inputs; break;
    case LOCAL:
        n = l->n; nb = l->outputs; nw = l->c * l->n * l->size * l->size * l->out_w * l->out_h;
        fan_in = l->c * l->size * l->size; break;
    case BATCHNORM: n = l->c; break;
    case RNN: case GRU: case LSTM: case CRNN: randomize_inner(l); return;
    default: return;
    }
    float r = fan_in > 0 ? sqrtf(3.0f / fan_in) : 1;
    if (l->type != BATCHNORM) { fill(l->biases, nb, -0.2f, 0.2f); fill(l->weights, nw, -r, r); }
    if (l->batch_normalize || l->type == BATCHNORM) {
        fill(l->scales, n, 0.5f, 1.5f);
        fill(l->rolling_mean, n, -0.2f, 0.2f);
        fill(l->rolling_variance, n, 0.5f, 1.5f);
    }
}

static void print_shapes(network *net) {
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        printf("%d %d %d %d %d %d %d\n", i, (int)l.type, l.out_c, l.out_h, l.out_w, l.outputs, l.inputs);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: dkharness shapes|info|save0|save|forward|randforward CFG ...\n"); return 2; }
    char *cmd = argv[1];
    if (!strcmp(cmd, "shapes") && argc == 3) {
        print_shapes(parse_network_cfg(argv[2]));
        return 0;
    }
    if (!strcmp(cmd, "save0") && argc == 4) {
        network *net = parse_network_cfg(argv[2]);
        save_weights(net, argv[3]);
        return 0;
    }
    /* info CFG OUT: shapes, then the network saved as parsed (one parse instead of two) */
    if (!strcmp(cmd, "info") && argc == 4) {
        network *net = parse_network_cfg(argv[2]);
        print_shapes(net);
        fflush(stdout);
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
            if (!o) { fprintf(stderr, "cannot write %s\n", path); return 3; }
            if (l.output) fwrite(l.output, sizeof(float), l.outputs, o);  /* cost layers may have none */
            fclose(o);
        }
        return 0;
    }
    fprintf(stderr, "bad arguments\n");
    return 2;
}
