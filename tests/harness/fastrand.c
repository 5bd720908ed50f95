/* LD_PRELOADed into `darknet ops` by tests/darknet.py. darknet draws a random initial value for every
 * weight while it parses a cfg, through libc's locked rand(); for a big zoo net that is most of the
 * time the command takes. This rand() is a plain xorshift: the drawn values change, the counts do not
 * (tests/test_analytic_parity.py checks that on a cfg with and without it). */
#include <stdlib.h>

static unsigned long long state = 88172645463325252ULL;

int rand(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (int)((state >> 33) & RAND_MAX);
}

void srand(unsigned seed) {
    state = 88172645463325252ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
    if (!state) state = 1;
}
