/* Forward pass of the AlexeyAB fork's libdarknet, for tests/test_fork_sections.py, tests/test_dialect.py and
 * tests/test_fork_forward.py (built at test time
 * against the fork's headers, as akharness.c):
 *
 *   akforward CFG WEIGHTS INPUT.f32 OUT [SAVED.weights]
 *       parses CFG with batch 1 (as `partial`), loads WEIGHTS, runs network_predict on the float32
 *       input read from INPUT.f32 (the first layer's inputs), and writes every layer's output to OUT:
 *       per layer an int32 count, then that many float32 values (l.output, what the fork computed).
 *       With SAVED.weights, also the weights as the fork saves them after loading WEIGHTS.
 */
#include <stdio.h>
#include <stdlib.h>
#include "darknet.h"

/* declared in the fork's src/parser.h, not in include/darknet.h */
network parse_network_cfg_custom(char *filename, int batch, int time_steps);
void load_weights(network *net, char *filename);
void save_weights(network net, char *filename);

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: akforward CFG WEIGHTS INPUT.f32 OUT [SAVED.weights]\n");
        return 2;
    }
    network net = parse_network_cfg_custom(argv[1], 1, 1);
    load_weights(&net, argv[2]);
    if (argc == 6) save_weights(net, argv[5]);
    int n = net.layers[0].inputs, i;
    float *input = calloc(n, sizeof(float));
    FILE *f = fopen(argv[3], "rb");
    if (!f || fread(input, sizeof(float), n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %d floats from %s\n", n, argv[3]);
        return 1;
    }
    fclose(f);
    network_predict(net, input);
    FILE *out = fopen(argv[4], "wb");
    if (!out) return 1;
    for (i = 0; i < net.n; ++i) {
        layer l = net.layers[i];
        int count = l.outputs;
        fwrite(&count, sizeof(int), 1, out);
        fwrite(l.output, sizeof(float), count, out);
    }
    return fclose(out) ? 1 : 0;
}
