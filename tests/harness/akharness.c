/* Test harness over the AlexeyAB fork's libdarknet (built at test time against the fork's headers,
 * see tests/alexeyab.py). Only what the fork's own `darknet` program cannot print:
 *
 *   akharness info CFG OUT.weights [BATCH [TIME_STEPS]]
 *       parses CFG as the fork's `partial` does (parse_network_cfg_custom(CFG, 1, 1): inference
 *       buffers), prints one line per layer to stdout,
 *           L index type out_c out_h out_w outputs inputs bflops nweights antialiasing
 *       (type: the fork's LAYER_TYPE id; out_*: what the next layer sees, i.e. the blur's output for
 *       antialiasing layers; bflops: the layer's own l.bflops as the fork stores it, a float),
 *       then `T total` (the fork's float sum of the positive l.bflops, as its "Total BFLOPS"),
 *       then saves the network with the fork's save_weights to OUT.weights.
 *
 * The library prints its own chatter to stdout and stderr; only lines starting "L " or "T " are ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "darknet.h"

/* declared in the fork's src/parser.h, not in include/darknet.h */
network parse_network_cfg_custom(char *filename, int batch, int time_steps);
void save_weights(network net, char *filename);

static int info(char *cfg, char *out, int batch, int time_steps)
{
    network net = parse_network_cfg_custom(cfg, batch, time_steps);
    float total = 0;
    int i;
    printf("\n");  /* the library may leave a line open (antialiasing prints "AA:  ") */
    for (i = 0; i < net.n; ++i) {
        layer l = net.layers[i];
        layer o = l.antialiasing && l.input_layer ? *l.input_layer : l;
        printf("L %d %d %d %d %d %d %d %.9g %d %d\n", i, (int)l.type, o.out_c, o.out_h, o.out_w, o.outputs,
               l.inputs, l.bflops, l.nweights, l.antialiasing);
        if (l.bflops > 0) total += l.bflops;
    }
    printf("T %.9g\n", total);
    fflush(stdout);
    if (out) save_weights(net, out);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "info")) {
        int batch = argc > 4 ? atoi(argv[4]) : 1;
        int time_steps = argc > 5 ? atoi(argv[5]) : 1;
        return info(argv[2], strcmp(argv[3], "-") ? argv[3] : NULL, batch, time_steps);
    }
    fprintf(stderr, "usage: akharness info CFG OUT.weights|- [BATCH [TIME_STEPS]]\n");
    return 2;
}
