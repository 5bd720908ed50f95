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
    for (int i = 0; i < n; ++i) a[i] = unif(lo, hi);
}

/* A weight array by darkbench's name: "biases", "weights", "scales", "rolling_mean", "rolling_variance",
 * or "INNER.name" for the inner layers of rnn/gru/lstm/crnn (named as darknet's struct fields). */
static float *array(layer *l, const char *name) {
    const char *dot = strchr(name, '.');
    if (dot) {
        struct { const char *name; layer *l; } inner[] = {
            {"input_layer", l->input_layer}, {"self_layer", l->self_layer}, {"output_layer", l->output_layer},
            {"wz", l->wz}, {"uz", l->uz}, {"wr", l->wr}, {"ur", l->ur}, {"wh", l->wh}, {"uh", l->uh},
            {"wi", l->wi}, {"ui", l->ui}, {"wf", l->wf}, {"uf", l->uf}, {"wo", l->wo}, {"uo", l->uo},
            {"wg", l->wg}, {"ug", l->ug}};
        for (size_t i = 0; i < sizeof inner / sizeof *inner; ++i)
            if (strlen(inner[i].name) == (size_t)(dot - name) && !strncmp(name, inner[i].name, dot - name))
                return inner[i].l ? array(inner[i].l, dot + 1) : NULL;
        return NULL;
    }
    if (!strcmp(name, "biases")) return l->biases;
    if (!strcmp(name, "weights")) return l->weights;
    if (!strcmp(name, "scales")) return l->scales;
    if (!strcmp(name, "rolling_mean")) return l->rolling_mean;
    if (!strcmp(name, "rolling_variance")) return l->rolling_variance;
    return NULL;
}

/* Fill the weights a table names: one line per array, "LAYER NAME COUNT LO HI", written by tests/darknet.py
 * from darkbench's layer specs (so no layer type is named here). The last "weights" array is scaled by gain. */
static void randomize(network *net, const char *table, float gain) {
    FILE *f = fopen(table, "r");
    if (!f) { fprintf(stderr, "cannot read %s\n", table); exit(3); }
    int i, count;
    char name[256], lo[64], hi[64];
    float *last = NULL;
    int nlast = 0;
    while (fscanf(f, "%d %255s %d %63s %63s", &i, name, &count, lo, hi) == 5) {
        float *a = i >= 0 && i < net->n ? array(&net->layers[i], name) : NULL;
        if (!a) { fprintf(stderr, "layer %d has no array %s\n", i, name); exit(3); }
        fill(a, count, strtof(lo, NULL), strtof(hi, NULL));
        const char *base = strrchr(name, '.');
        if (!strcmp(base ? base + 1 : name, "weights")) { last = a; nlast = count; }
    }
    fclose(f);
    for (int j = 0; last && j < nlast; ++j) last[j] *= gain;
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
    /* save CFG TABLE OUT SEED [GAIN]: random weights as TABLE lists them; GAIN scales the last weighted
     * layer's, so a classifier's softmax is peaked */
    if (!strcmp(cmd, "save") && (argc == 6 || argc == 7)) {
        network *net = parse_network_cfg(argv[2]);
        srand(atoi(argv[5]));
        randomize(net, argv[3], argc == 7 ? atof(argv[6]) : 1);
        save_weights(net, argv[4]);
        return 0;
    }
    /* forward CFG WEIGHTS INPUT OUTDIR: darknet reads the weights;
     * randforward CFG TABLE SEED OUTWEIGHTS INPUT OUTDIR: darknet makes and saves random weights itself
     * (darknet cannot load [deconvolutional] weights: its loader divides by l.groups, which is 0) */
    int rnd = !strcmp(cmd, "randforward") && argc == 8;
    if ((!strcmp(cmd, "forward") && argc == 6) || rnd) {
        network *net;
        if (rnd) {
            net = parse_network_cfg(argv[2]);
            srand(atoi(argv[4]));
            randomize(net, argv[3], 1);
            save_weights(net, argv[5]);
            argv += 2;
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
