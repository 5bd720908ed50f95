/* darknet's memory figures for a cfg, for darkbench's footprint tests: per layer its workspace_size
 * (bytes of im2col scratch it asks for), outputs and batch, as parse_network_cfg leaves them.
 * Built by tests/test_footprint.py through tests/darknet.py's compiler cache. */
#include <stdio.h>
#include <stdlib.h>
#include "darknet.h"

/* the same cheap rand() as dkharness.c: parsing draws a random number per weight */
static unsigned long long state = 88172645463325252ULL;
int rand(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (int)((state >> 33) & RAND_MAX);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: wsharness CFG\n"); return 2; }
    network *net = parse_network_cfg(argv[1]);
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        printf("%d %zu %d %d\n", i, l.workspace_size, l.outputs, l.batch);
    }
    return 0;
}
