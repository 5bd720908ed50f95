/* 2018 darknet's detector as `darknet detect` runs it, printing the detection array it only draws; for
 * tests/test_detect.py (built at test time against libdarknet, as dkharness.c):
 *
 *   dkdetect CFG WEIGHTS IMAGE THRESH HIER NMS
 *       load_network, batch 1; load_image_color(IMAGE) and letterbox_image to the network's size;
 *       network_predict; get_network_boxes(net, im.w, im.h, THRESH, HIER, 0, 1, &n); do_nms_sort with the
 *       last layer's classes when NMS > 0. Prints "W H N CLASSES", then one line per detection in the array's
 *       order: objectness, bbox x y w h, and every class probability (%.9g: float32 exactly).
 */
#include <stdio.h>
#include <stdlib.h>
#include "darknet.h"

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: dkdetect CFG WEIGHTS IMAGE THRESH HIER NMS\n");
        return 2;
    }
    float thresh = atof(argv[4]), hier = atof(argv[5]), nms = atof(argv[6]);
    network *net = load_network(argv[1], argv[2], 0);
    set_batch_network(net, 1);
    image im = load_image_color(argv[3], 0, 0);
    image sized = letterbox_image(im, net->w, net->h);
    layer l = net->layers[net->n - 1];
    network_predict(net, sized.data);
    int n = 0, i, j;
    detection *dets = get_network_boxes(net, im.w, im.h, thresh, hier, 0, 1, &n);
    if (nms) do_nms_sort(dets, n, l.classes, nms);
    printf("%d %d %d %d\n", im.w, im.h, n, l.classes);
    for (i = 0; i < n; ++i) {
        box b = dets[i].bbox;
        printf("%.9g %.9g %.9g %.9g %.9g", dets[i].objectness, b.x, b.y, b.w, b.h);
        for (j = 0; j < l.classes; ++j) printf(" %.9g", dets[i].prob[j]);
        printf("\n");
    }
    free_detections(dets, n);
    free_image(im);
    free_image(sized);
    return 0;
}
