/* Forward pass over the AlexeyAB fork's libdarknet, for tests/test_dialect.py (built at test time against
 * the fork's headers, as akharness.c):
 *
 *   akforward CFG WEIGHTS IN.f32 OUT.f32
 *       parses CFG with batch 1 (parse_network_cfg_custom), reads WEIGHTS with the fork's load_weights,
 *       runs network_predict on the float32 input in IN.f32 and writes, per layer, int32 outputs then that
 *       many float32 values of l.output to OUT.f32.
 */
#include <stdio.h>
#include <stdlib.h>
#include "darknet.h"

network parse_network_cfg_custom(char *filename, int batch, int time_steps);
void load_weights(network *net, char *filename);

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: akforward CFG WEIGHTS IN.f32 OUT.f32\n");
        return 2;
    }
    network net = parse_network_cfg_custom(argv[1], 1, 1);
    load_weights(&net, argv[2]);
    int n = net.layers[0].inputs, i;
    float *in = calloc(n, sizeof(float));
    FILE *f = fopen(argv[3], "rb");
    if (!f || fread(in, sizeof(float), n, f) != (size_t)n) {
        fprintf(stderr, "akforward: cannot read %d floats from %s\n", n, argv[3]);
        return 1;
    }
    fclose(f);
    network_predict(net, in);
    FILE *out = fopen(argv[4], "wb");
    for (i = 0; i < net.n; ++i) {
        layer l = net.layers[i];
        fwrite(&l.outputs, sizeof(int), 1, out);
        fwrite(l.output, sizeof(float), l.outputs, out);
    }
    fclose(out);
    return 0;
}
