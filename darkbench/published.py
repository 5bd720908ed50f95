"""Published claims checked against computed values: the Tiny Darknet page and inception blog
(darkbench/data/published.json), and the AlexeyAB fork's README (published_alexeyab.json), the latter against
the fork's own zoo cfgs in the fork's dialect (found through $DARKBENCH_ALEXEYAB)."""
import json
import os
from pathlib import Path

from . import models
from .dialect import ALEXEYAB
from .errors import DarkbenchError
from .header import HEADER_BYTES
from .paths import DARKNET_ZOO, PROJECT_CFG

DATA = Path(__file__).with_name("data") / "published.json"
ALEXEYAB_DATA = DATA.with_name("published_alexeyab.json")
ALEXEYAB_ENV = "DARKBENCH_ALEXEYAB"  # the fork's build or source directory; its cfg/ holds the zoo


def _load(path=DATA):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cfg_path(name):
    """The project's own copy of a published network's file (else darknet's zoo), never one found first in the
    current directory or on DARKBENCH_CFG_PATH: a stray tiny.cfg must not change what verify reports."""
    for d in (PROJECT_CFG, DARKNET_ZOO):
        if (d / name).is_file():
            return str(d / name)
    raise DarkbenchError(f"published network file {name} is in neither {PROJECT_CFG} nor {DARKNET_ZOO}")


def figures_for(net):
    """The page's table row for this network, only when it is the page's network: the same file bytes as the
    project's copy, analysed at the same input size (a renamed other cfg or a resized one gets none)."""
    import os
    rows = {r["cfg"]: r for r in table()}
    r = rows.get(os.path.basename(net.path))
    if r is None:
        return None
    try:
        ours = cfg_path(r["cfg"])
        with open(ours, "rb") as a, open(net.path, "rb") as b:
            if a.read() != b.read():
                return None
    except (DarkbenchError, OSError):
        return None
    ref = models.analyse(ours)
    return r if (net.width, net.height, net.channels) == (ref.width, ref.height, ref.channels) else None


def table():
    """The Tiny Darknet page's table, figures as published (Top-1/Top-5 are quoted)."""
    return [dict(r, ops_text=r["ops_bn"] + " Bn", size_text=r["size_mb"] + " MB",
                 ops_bn=float(r["ops_bn"]), size_mb=float(r["size_mb"])) for r in _load()["table"]]


def sources():
    return _load()["sources"]


def _measure(net, quantity, claim):
    if quantity in ("ops", "size_mib", "params"):
        return getattr(net, quantity)
    layers = net.layers
    if quantity == "params_upto":
        hit = [l for l in layers if l.type.lower() == claim["upto"]]
        if not hit:
            raise DarkbenchError(f"{claim['id']}: no {claim['upto']} layer in {net.path}")
        return hit[0].running_total
    if quantity == "flatten_units":
        hit = [l for l in layers if l.type.lower() == "flatten"]
        if not hit:
            raise DarkbenchError(f"{claim['id']}: no Flatten layer in {net.path}")
        return hit[0].outputs
    raise DarkbenchError(f"{claim['id']}: unknown quantity {quantity}")


def _rounds_to(value, claim):
    return round(value / claim["unit"], claim["digits"]) == claim["value"]


def _holds_at(claim, nominal):
    """Nearest square input size at which an ops claim would hold, or None."""
    best = None
    for s in range(max(8, nominal // 2), nominal * 2 + 1):
        try:
            net = models.analyse(cfg_path(claim["cfg"]), width=s, height=s)
        except DarkbenchError:
            continue
        if _rounds_to(net.ops, claim) and (best is None or abs(s - nominal) < abs(best - nominal)):
            best = s
    return f"{best}x{best}" if best else None


def computed_text(r):
    """A row's computed value as verify and the report print it."""
    v = r["computed"]
    if v is None:
        return ""
    if r["quantity"] == "ops":
        return f"{v} ({v / 1e9:.3f} Bn)"
    if r["quantity"] in ("size_mib", "size_mib_upto"):
        return f"{v:.3f} MiB"
    if r["quantity"] in ("bflops", "fma"):
        return f"{v:.3f} {'BFLOPS' if r['quantity'] == 'bflops' else 'B FMA'}"
    return f"{v:,}"


def _claim_row(data, c):
    """A claim's row before it is computed: FAILED until shown otherwise, or quoted."""
    row = dict(claim=c["id"], source=data["sources"][c["source"]], network=c["network"],
               quantity=c["quantity"], published=c["value"], published_text=c["text"],
               computed=None, verdict="FAILED", holds_at=None, note="")
    if "quoted" in c:
        row.update(verdict="quoted", note=c["quoted"])
    return row


def verify():
    """One row per claim: published, computed, verdict (reproduced / known discrepancy / quoted / FAILED)."""
    data = _load()
    rows = []
    for r in data["table"]:  # accuracy figures can only be quoted
        for q in ("top1", "top5"):
            rows.append(dict(claim=f"table-{r['cfg'][:-4]}-{q}", source=data["sources"]["tiny-darknet"],
                             network=r["network"], quantity=q, published=r[q],
                             published_text=f"{'Top-1' if q == 'top1' else 'Top-5'} {r[q]}",
                             computed=None, verdict="quoted", holds_at=None,
                             note="ImageNet accuracy: quoted from the page, not computable from a cfg"))
    for c in data["claims"]:
        row = _claim_row(data, c)
        rows.append(row)
        if row["verdict"] == "quoted":
            continue
        try:
            net = models.analyse(cfg_path(c["cfg"]))
            value = _measure(net, c["quantity"], c)
        except DarkbenchError as e:
            row["note"] = f"could not compute: {e}"
            continue
        row["computed"] = value
        known = c.get("known")
        if _rounds_to(value, c):
            row["verdict"] = "reproduced"
            if known:
                row.update(verdict="FAILED", note="recorded as a discrepancy but now reproduces: update the record")
        elif known and known["computed"] == value:
            row.update(verdict="known discrepancy", note=known["note"])
            if c["quantity"] == "ops":
                row["holds_at"] = _holds_at(c, net.width)
        else:
            row["note"] = (f"computed {value} no longer equals the recorded {known['computed']}" if known
                           else f"computed {value / c['unit']:.{c['digits'] + 2}f} does not round to {c['value']}")
    return rows


def alexeyab_zoo():
    """(the fork's cfg/ folder, None) from $DARKBENCH_ALEXEYAB, or (None, why it is not there)."""
    d = os.environ.get(ALEXEYAB_ENV)
    if not d:
        return None, (f"the AlexeyAB fork's zoo is not installed: set {ALEXEYAB_ENV} to the fork's directory "
                      "(the one holding its cfg/ folder)")
    zoo = Path(d) / "cfg"
    if not zoo.is_dir():
        return None, f"{ALEXEYAB_ENV}={d} has no cfg/ folder (the fork's zoo)"
    return zoo, None


def _fork_measure(net, claim):
    """The claim's quantity as the fork prints or writes it: Total BFLOPS to its 3 printed decimals (half of
    it for FMA), the weights file (or its first `cutoff` layers, as `darknet partial`) in MiB."""
    q = claim["quantity"]
    if q in ("bflops", "fma"):
        printed = float(f"{net.bflops:.3f}")
        return printed / 2 if q == "fma" else printed, None
    if q == "size_mib":
        return net.weights_bytes / 2 ** 20, net.weights_bytes
    if q == "size_mib_upto":
        floats = sum(l.weight_floats for l in net.layers[:claim["cutoff"]] if l.saved)
        nbytes = HEADER_BYTES + 4 * floats
        return nbytes / 2 ** 20, nbytes
    raise DarkbenchError(f"{claim['id']}: unknown quantity {q}")


def verify_alexeyab(zoo=None):
    """One row per claim of the fork's README, as verify() does: computed with dialect alexeyab from the fork's
    zoo cfg (zoo: its cfg/ folder, default from $DARKBENCH_ALEXEYAB). Without the zoo the computable claims are
    "not checked" (the note says why); a cfg darkbench cannot analyse is FAILED with the one-line reason."""
    data = _load(ALEXEYAB_DATA)
    why = None
    if zoo is None:
        zoo, why = alexeyab_zoo()
    nets = {}
    rows = []
    for c in data["claims"]:
        row = _claim_row(data, c)
        rows.append(row)
        if row["verdict"] == "quoted":
            continue
        if zoo is None:
            row.update(verdict="not checked", note=why)
            continue
        size = (c.get("width"), c.get("height"))
        key = (c["cfg"], size)
        try:
            if key not in nets:
                path = Path(zoo) / c["cfg"]
                if not path.is_file():
                    raise DarkbenchError(f"{c['cfg']} is not in the fork's zoo {zoo}")
                with models.warnings_to(lambda w: None):  # the fork's training-only keys: not the user's concern
                    nets[key] = models.analyse(str(path), *size, dialect=ALEXEYAB)
            value, nbytes = _fork_measure(nets[key], c)
        except DarkbenchError as e:
            row["note"] = f"could not compute: {e}"
            continue
        row["computed"] = value
        known = c.get("known")
        if round(value, c["digits"]) == c["value"]:
            row["verdict"] = "reproduced"
            if known:
                row.update(verdict="FAILED", note="recorded as a discrepancy but now reproduces: update the record")
        elif known and known["computed"] == value and known.get("computed_bytes", nbytes) == nbytes:
            row.update(verdict="known discrepancy", note=known["note"])
        elif known:
            row["note"] = f"computed {value} no longer equals the recorded {known['computed']}"
        else:
            row["note"] = f"computed {value:.{c['digits'] + 3}f} does not round to {c['value']}"
    return rows


def verify_all():
    """verify() and verify_alexeyab(): every claim darkbench knows of."""
    return verify() + verify_alexeyab()
