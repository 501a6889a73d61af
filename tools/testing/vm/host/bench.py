# SPDX-License-Identifier: GPL-2.0
"""make bench's numbers: the boots of one kernel pooled into one result set
(pool), and the table of ours against mainline (render), from the results
vd_bench wrote in each guest."""

# A map of >= 2 ranges through an IOMMU fails on mainline 7.2.13 (README,
# "Known mainline problem"): shown as such, not as a number.
MAINLINE_BUG = {"EADDRINUSE": "fails (mainline bug, EADDRINUSE)"}
# Added to both kernels' command lines alike. quiet: 7.x logs every reset
# ("resetting", "reset done") at KERN_INFO, and a line on the TCG serial
# console costs about a millisecond; splats still reach dmesg.txt.
# tsc=reliable: no clocksource watchdog switching clocks mid-run.
BOOT_APPEND = "quiet tsc=reliable"
# Rows "PATH.N" whose lines are fitted again through the pooled medians and
# minima, into "fit.PATH" and "fitmin.PATH".
FIT_PATHS = ("reset", "memoff", "memon", "memcycle", "cmdnop", "cfgnop",
             "mmap.zap.dmabuf.pages", "mmap.zap.region.pages",
             "mmap.zap.dmabuf.procs", "mmap.zap.region.procs")


# ---- pooling the boots of one kernel ----

def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fit_line(x, y):
    """Least squares y = slope * x + intercept; (slope, intercept, R²)."""
    n = len(x)
    sx, sy = sum(x), sum(y)
    sxx = sum(a * a for a in x)
    sxy = sum(a * b for a, b in zip(x, y))
    slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    icpt = (sy - slope * sx) / n
    my = sy / n
    ss_tot = sum((b - my) ** 2 for b in y)
    ss_res = sum((b - slope * a - icpt) ** 2 for a, b in zip(x, y))
    return slope, icpt, 1 - ss_res / ss_tot if ss_tot else 1.0


def pool(runs):
    """One result set from the boots of one kernel: latency samples pooled
    (median, min, max over all of them), counts and memory averaged, the
    revoke lines fitted again through the pooled medians and minima."""
    runs = [r for r in runs if r]
    if not runs:
        return None
    out = dict(runs[0])
    out["boots"] = len(runs)
    out["guest_seconds"] = round(sum(r.get("guest_seconds", 0) for r in runs), 1)
    out["quick"] = any(r.get("quick") for r in runs)
    rows = {}
    for key, first in runs[0]["rows"].items():
        all_ = [r["rows"].get(key) for r in runs if key in r["rows"]]
        if "samples" in first:
            samples = [s for a in all_ if "samples" in a for s in a["samples"]]
            rows[key] = {"unit": "us", "n": len(samples), "median": median(samples),
                         "min": min(samples), "max": max(samples)}
        elif "value" in first:
            rows[key] = {"value": sum(a["value"] for a in all_) / len(all_)}
        elif "slab_bytes" in first:
            r = dict(first)
            for f in ("slab_bytes", "objs", "meminfo_slab_bytes", "meminfo_sunreclaim_bytes"):
                r[f] = sum(a[f] for a in all_) / len(all_)
            r["caches"] = {c: {"objs": sum(a["caches"].get(c, {"objs": 0})["objs"] for a in all_) / len(all_),
                               "objsize": v["objsize"]} for c, v in first["caches"].items()}
            rows[key] = r
        else:
            rows[key] = first
    for path in FIT_PATHS:
        sizes = sorted(int(k[len(path) + 1:]) for k in rows if k.startswith(path + ".")
                       and k[len(path) + 1:].isdigit() and "median" in rows[k])
        if len(sizes) < 3:
            continue
        for fit, stat in (("fit", "median"), ("fitmin", "min")):
            slope, icpt, r2 = fit_line(sizes, [rows["%s.%d" % (path, n)][stat] for n in sizes])
            rows["%s.%s" % (fit, path)] = {"slope": slope, "intercept": icpt, "r2": r2,
                                           "points": len(sizes)}
    # the dma-buf's fault-in over the region mmap's, of the pooled medians
    for where in ("aligned", "unaligned"):
        a = rows.get("mmap.fault.dmabuf." + where, {}).get("median")
        b = rows.get("mmap.fault.region." + where, {}).get("median")
        if a is not None and b:
            rows["mmap.fault_ratio." + where] = {"value": a / b}
    out["rows"] = rows
    return out


# ---- the table ----

def cell(res, key, fmt="%.1f", mm=True):
    """(text, median or None) for one result row."""
    r = res["rows"].get(key) if res else None
    if r is None:
        return "not run", None
    if "reason" in r:
        return "n/a (%s)" % r["reason"], None
    if "error" in r:
        if not res.get("mainline"):
            return "fails (%s)" % r["error"], None
        return MAINLINE_BUG.get(r["error"], "fails (%s)" % r["error"]), None
    if "median" in r:
        t = fmt % r["median"]
        if mm:
            t += " (" + fmt % r["min"] + "–" + fmt % r["max"] + ")"
        return t, r["median"]
    if "value" in r:
        v = r["value"]
        return ("%d" % v if v == int(v) else "%.2f" % v), v
    return "?", None


def ratio(a, b):
    if a is None or b is None:
        return "—"
    if b == 0:
        return "=" if a == 0 else "—"
    return "%.2f" % (a / b)


class Table:
    def __init__(self, ours, main):
        self.ours, self.main = ours, main
        self.lines = []

    def out(self, s=""):
        self.lines.append(s)

    def head(self, title, unit):
        self.out()
        self.out("## " + title)
        self.out()
        self.out("| %s | ours (%s) | mainline (%s) | ours/mainline |" % (
            unit, self.ours["label"] if self.ours else "-", self.main["label"] if self.main else "-"))
        self.out("|---|---|---|---|")

    def row(self, name, key, fmt="%.1f", mm=True):
        a, av = cell(self.ours, key, fmt, mm)
        b, bv = cell(self.main, key, fmt, mm)
        self.out("| %s | %s | %s | %s |" % (name, a, b, ratio(av, bv)))

    def text(self):
        return "\n".join(self.lines) + "\n"


def fit_cell(res, key, per="dma-buf"):
    r = res["rows"].get(key) if res else None
    if not r:
        return "not run"
    if "error" in r:
        return "n/a (%s)" % r.get("reason", r["error"])
    return "%.2f µs/%s + %.0f µs, R² %.4f" % (r["slope"], per, r["intercept"], r["r2"])


def mem_cells(res, key):
    r = res["rows"].get(key) if res else None
    if not r:
        return None
    caches = sorted(r["caches"].items(), key=lambda kv: -kv[1]["objs"] * kv[1]["objsize"])
    objs = ", ".join("%s ×%.2f" % (k, v["objs"]) for k, v in caches)
    return r, objs


WALK_FUNCS = [("list walks", ("vdb_dmabuf_update", "vfio_pci_dma_buf_move")),
              ("dma-bufs visited (fput)", ("fput",)),
              ("importer notifications", ("dma_buf_move_notify", "dma_buf_invalidate_mappings")),
              ("fence waits (dma_resv_wait_timeout)", ("dma_resv_wait_timeout",))]


def walks(t, o, m):
    """Calls per reset and per memory off+on, from the guests' ftrace counts."""
    wo, wm = o.get("rows", {}).get("walks"), m.get("rows", {}).get("walks")
    n = (wo or wm or {}).get("dmabufs", 0)
    t.out("Calls per round trip with %d live dma-bufs, counted with ftrace's function tracer" % n)
    t.out("for vd_bench's pid only (perf has no counters in TCG). The walk is")
    t.out("vdb_dmabuf_update (ours) or vfio_pci_dma_buf_move (mainline); every walk takes")
    t.out("and drops a file reference (fput) on each live dma-buf it visits.")
    t.out()
    t.out("| count | ours (%s) | mainline (%s) |" % (o.get("label", "-"), m.get("label", "-")))
    t.out("|---|---|---|")

    def get(w, what, funcs):
        if not w:
            return "not run"
        if "error" in w:
            return "not observable (%s)" % w["error"]
        if what not in w:
            return "not run"
        return "%g" % sum(w[what].get(f, 0) for f in funcs)
    for what, wname in (("per_reset", "VFIO_DEVICE_RESET"), ("per_memcycle", "memory decode off+on"),
                        ("per_cmdnop", "PCI_COMMAND write (unchanged)"),
                        ("per_cfgnop", "other config write (unchanged)")):
        for name, funcs in WALK_FUNCS:
            t.out("| %s per %s | %s | %s |" % (name, wname, get(wo, what, funcs), get(wm, what, funcs)))


def cpu_mmap(t, o, m):
    """Section 5: the dma-buf's CPU mmap beside vfio-pci's region mmap of the
    same BAR on the same kernel; its ratio rows compare within a kernel."""
    t.head("5. CPU mmap of BAR2 (16 MiB): the dma-buf's beside vfio-pci's region mmap",
           "µs / count")
    for where, how in (("aligned", "at a 1 GiB-aligned address"),
                       ("unaligned", "4 KiB off the 2 MiB grid")):
        t.row("fault-in per MiB, %s: dma-buf" % how, "mmap.fault.dmabuf." + where)
        t.row("fault-in per MiB, %s: region mmap" % how, "mmap.fault.region." + where)
        t.row("fault-in, %s: dma-buf/region (goal <= 1.1)" % how,
              "mmap.fault_ratio." + where, mm=False)
        t.row("  touched again, no faults: dma-buf", "mmap.retouch.dmabuf." + where)
        t.row("  touched again, no faults: region mmap", "mmap.retouch.region." + where)
    for where, how in (("aligned", "aligned"), ("unaligned", "4 KiB off")):
        for kind, src in (("dmabuf", "dma-buf (debugfs)"), ("region", "region mmap (ftrace)")):
            for lvl in ("pte", "pmd", "pud"):
                t.row("entries for 16 MiB, %s, %s: %ss" % (how, src, lvl.upper()),
                      "mmap.%s.%s.%s" % (lvl, kind, where), mm=False)
    t.row("zap baseline: memory decode off, dma-buf mapped nowhere", "mmap.zap.base")
    for kind, src in (("dmabuf", "dma-buf"), ("region", "region mmap")):
        pages = sorted({int(k.rsplit(".", 1)[1]) for r in (o, m) for k in r.get("rows", {})
                        if k.startswith("mmap.zap.%s.pages." % kind)})
        for n in pages:
            t.row("zap, %s, %d page%s faulted in" % (src, n, "" if n == 1 else "s"),
                  "mmap.zap.%s.pages.%d" % (kind, n))
        t.row("zap, %s, 16 MiB aligned faulted in" % src, "mmap.zap.%s.aligned" % kind)
        procs = sorted({int(k.rsplit(".", 1)[1]) for r in (o, m) for k in r.get("rows", {})
                        if k.startswith("mmap.zap.%s.procs." % kind)})
        for n in procs:
            t.row("zap, %s, %d process%s x 16 pages" % (src, n, "" if n == 1 else "es"),
                  "mmap.zap.%s.procs.%d" % (kind, n))
    t.out()
    t.out("dma-buf: mmap(2) of a dma-buf exporting BAR2 whole as one range; region mmap:")
    t.out("vfio-pci's mmap of BAR2 through the device fd, on the same kernel. Fault-in: one")
    t.out("read per 4 KiB page of a new mapping, every one faulting (PMDs where the kernel")
    t.out("has huge pfnmaps and the address is aligned). Entries: faults that inserted a")
    t.out("PTE, PMD or PUD, the dma-buf's from our debugfs, the region's from ftrace")
    t.out("(vmf_insert_pfn*() calls; smaps, pagemap and mincore skip pfnmaps). Zap: memory")
    t.out("decode off, a config write that revokes and zaps every CPU mapping of the BAR")
    t.out("before it returns; pages faulted in 4 KiB off the 2 MiB grid (PTEs), processes")
    t.out("16 pages each. Least-squares lines through the medians, then the minima:")
    t.out()
    t.out("| line | ours | mainline |")
    t.out("|---|---|---|")
    for fit, what in (("fit", "medians"), ("fitmin", "minima")):
        for kind, src in (("dmabuf", "dma-buf"), ("region", "region mmap")):
            for x, per in (("pages", "page"), ("procs", "process")):
                k = "%s.mmap.zap.%s.%s" % (fit, kind, x)
                t.out("| zap, %s, per %s, %s | %s | %s |" % (
                    src, per, what, fit_cell(o, k, per), fit_cell(m, k, per)))


def render(ours, main, wall=None):
    t = Table(ours, main)
    o, m = ours or {}, main or {}
    t.out("# vfio-dmabuf bench: %s on %s vs %s on %s" % (
        o.get("driver", "-"), o.get("kernel", "-"), m.get("driver", "-"), m.get("kernel", "-")))
    t.out()
    t.out("Same QEMU machine line for both (TCG, q35 + intel-iommu, 2 vCPUs; kernel command")
    t.out("line + \"%s\" on both); vd_bench pinned to CPU 0; CLOCK_MONOTONIC in the" % BOOT_APPEND)
    t.out("guest around the one syscall measured. %d boot(s) per kernel, alternating; a cell" % o.get("boots", 1))
    t.out("is the median (min–max) of the samples of all its boots (n in latest.json). TCG")
    t.out("times compare the two columns; they are no hardware figures. Section 0 shows how")
    t.out("the two kernels compare on paths without any dma-buf code: read the other ratios")
    t.out("against it.")
    if o.get("quick") or m.get("quick"):
        t.out()
        t.out("**quick run (-q): few repetitions, not for quoting**")

    t.head("0. kernel baselines (no dma-buf code: how the two kernels compare anyway)", "µs")
    t.row("clock_gettime back to back (timer overhead)", "base.clock_gettime", "%.2f")
    t.row("getppid syscall", "base.getppid", "%.2f")
    t.row("VFIO_DEVICE_GET_INFO ioctl", "base.vfio_get_info", "%.2f")
    t.row("open + close of /dev/vd_test_importer", "base.importer_open_close")

    t.head("1. export ioctl (VFIO_DEVICE_FEATURE_DMA_BUF)", "µs")
    t.row("export, 1 range", "export.1")
    t.row("export, 64 ranges", "export.64")
    t.row("close of the only fd (release), 1 range", "release.1")
    t.row("close of the only fd (release), 64 ranges", "release.64")

    t.head("2. importer attach + map (vd_test_importer, 16 KiB ranges)", "µs / count")
    for nr in (1, 16, 64, 256):
        t.row("attach + map, %d range%s" % (nr, "s" if nr > 1 else ""), "attach_map.%d" % nr)
    for nr in (1, 16, 64, 256):
        t.row("  attach alone, %d" % nr, "attach.%d" % nr)
    for nr in (1, 16, 64, 256):
        t.row("  map alone, %d" % nr, "map.%d" % nr)
    for nr in (1, 16, 64, 256):
        t.row("  unmap, %d" % nr, "unmap.%d" % nr)
    for nr in (1, 16, 64, 256):
        t.row("sg segments (count), %d range%s" % (nr, "s" if nr > 1 else ""), "segments.%d" % nr)

    t.head("3. revoke + re-grant, N live dma-bufs each with one mapped importer", "µs")
    sizes = sorted({int(k.split(".")[1]) for r in (o, m) for k in r.get("rows", {})
                    if k.startswith("reset.")})
    for n in sizes:
        t.row("VFIO_DEVICE_RESET round trip, N=%d" % n, "reset.%d" % n, "%.0f")
    for n in sizes:
        t.row("memory decode off (revoke), N=%d" % n, "memoff.%d" % n, "%.0f")
    for n in sizes:
        t.row("memory decode on (re-grant), N=%d" % n, "memon.%d" % n, "%.0f")
    for n in sizes:
        t.row("PCI_COMMAND written back unchanged, N=%d" % n, "cmdnop.%d" % n, "%.0f")
    for n in sizes:
        t.row("other config write (cache line size) unchanged, N=%d" % n, "cfgnop.%d" % n, "%.0f")
    t.row("move_notify calls per dma-buf per reset (count)", "notify_per_reset", mm=False)
    t.row("mappings invalidated per dma-buf per reset (count)", "invalidated_per_reset", mm=False)
    t.row("importers still mapped after the resets (count)", "mapped_after_reset", mm=False)
    t.out()
    t.out("Least-squares line (slope per live dma-buf, intercept, R²) through the medians")
    t.out("at N = %s; the sizes are interleaved round by round. Below it the same" % ", ".join(map(str, sizes)))
    t.out("line through each size's minimum, which host load cannot inflate:")
    t.out()
    t.out("| path | ours | mainline | slope ours/mainline |")
    t.out("|---|---|---|---|")
    for fit, what in (("fit", "medians"), ("fitmin", "minima")):
        for key, name in (("reset", "VFIO_DEVICE_RESET round trip"),
                          ("memoff", "memory decode off (revoke)"),
                          ("memon", "memory decode on (re-grant)"),
                          ("cmdnop", "PCI_COMMAND written back unchanged"),
                          ("cfgnop", "other config write, unchanged")):
            k = fit + "." + key
            a = o.get("rows", {}).get(k)
            b = m.get("rows", {}).get(k)
            r = ratio(a and a["slope"], b and b["slope"])
            if a and b and abs(b["slope"]) < 0.02 <= abs(a["slope"]):
                r = "mainline flat"	# no per-dma-buf work there: no ratio
            t.out("| %s, %s | %s | %s | %s |" % (name, what, fit_cell(ours, k), fit_cell(main, k), r))
    t.out()
    walks(t, o, m)

    t.head("4. kernel memory per operation (/proc/slabinfo, %d of each)" % (
        (o.get("rows", {}).get("mem.export") or m.get("rows", {}).get("mem.export") or {}).get("n", 0)),
        "bytes / objects")
    details = []
    for key, name in (("mem.export", "per dma-buf (export)"),
                      ("mem.attach", "per attachment (VDTI_ATTACH)"),
                      ("mem.map", "per mapping (VDTI_MAP, 1 page)"),
                      ("mem.importer_open", "per importer file (open, not the exporter's)"),
                      ("mem.residual", "left after closing everything, per export"),
                      ("mem.noise", "noise floor: two snapshots, nothing between")):
        a, b = mem_cells(ours, key), mem_cells(main, key)
        ab = a and a[0]["slab_bytes"]
        bb = b and b[0]["slab_bytes"]
        t.out("| %s: slab bytes | %s | %s | %s |" % (
            name, "%.0f" % ab if a else "not run", "%.0f" % bb if b else "not run", ratio(ab, bb)))
        ao = a and a[0]["objs"]
        bo = b and b[0]["objs"]
        t.out("| %s: slab objects | %s | %s | %s |" % (
            name, "%.2f" % ao if a else "not run", "%.2f" % bo if b else "not run", ratio(ao, bo)))
        am = a and a[0]["meminfo_slab_bytes"]
        bm = b and b[0]["meminfo_slab_bytes"]
        t.out("| %s: /proc/meminfo Slab bytes | %s | %s | %s |" % (
            name, "%.0f" % am if a else "not run", "%.0f" % bm if b else "not run", ratio(am, bm)))
        details.append((name, a and a[1], b and b[1]))
    t.out()
    t.out("Objects per operation by slab cache (caches at >= 0.25 per op; merged caches")
    t.out("show under the name slabinfo gives them):")
    t.out()
    for name, a, b in details:
        t.out("- %s: ours: %s; mainline: %s" % (name, a or "-", b or "-"))

    cpu_mmap(t, o, m)

    t.out()
    t.out("ours: %s, %s, guests %ss; mainline: %s, %s, guests %ss%s" % (
        o.get("driver", "-"), o.get("kernel", "-"), o.get("guest_seconds", "-"),
        m.get("driver", "-"), m.get("kernel", "-"), m.get("guest_seconds", "-"),
        "" if wall is None else "; make bench wall time %.0fs" % wall))
    return t.text()
