#!/usr/bin/python3
"""Load tool for libvirt's API (libvirt's own Python binding, python3-libvirt), run by
bench/cases/libvirt-api.ts as a separate process, like autocannon is for Hangar.

  libvirt-load.py define  URI TEMPLATE PREFIX COUNT   define COUNT domains from TEMPLATE (@@NAME@@ replaced)
  libvirt-load.py undefine-all URI                    undefine every inactive defined domain
  libvirt-load.py load URI OP CONNECTIONS SECONDS [NAME]
      OP list: one virConnectGetAllDomainStats(state, balloon, vcpu) per request: every
               domain with its state, memory and vCPUs (what Hangar's GET /v1/vms returns)
      OP show: virDomainLookupByName + virDomainGetInfo (`virsh dominfo NAME`)
  Each of CONNECTIONS threads has its own connection and issues requests back to back.
Prints one JSON object on stdout.
"""
import json
import sys
import threading
import time

import libvirt


def quiet(_ctx, _err):
    pass


libvirt.registerErrorHandler(quiet, None)


def percentile(sorted_ms, q):
    if not sorted_ms:
        return float('nan')
    pos = (len(sorted_ms) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


def cmd_define(uri, template_path, prefix, count):
    template = open(template_path, encoding='utf8').read()
    conn = libvirt.open(uri)
    t = time.perf_counter()
    for i in range(1, count + 1):
        conn.defineXML(template.replace('@@NAME@@', '%s%04d' % (prefix, i)))
    ms = (time.perf_counter() - t) * 1000
    conn.close()
    return {'defined': count, 'ms': ms}


def cmd_undefine_all(uri):
    conn = libvirt.open(uri)
    n = 0
    for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE):
        d.undefine()
        n += 1
    conn.close()
    return {'undefined': n}


STATS = libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_VCPU


def cmd_load(uri, op, connections, seconds, name):
    results = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)
    deadline = [0.0]
    items = [0]

    def worker():
        conn = libvirt.open(uri)
        lat = []
        errs = 0
        start.wait()
        while True:
            t = time.perf_counter()
            if t >= deadline[0]:
                break
            try:
                if op == 'list':
                    n = len(conn.getAllDomainStats(STATS))
                    items[0] = n
                else:
                    conn.lookupByName(name).info()
            except libvirt.libvirtError:
                errs += 1
                continue
            lat.append((time.perf_counter() - t) * 1000)
        conn.close()
        with lock:
            results.extend(lat)
            errors[0] += errs

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for th in threads:
        th.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    s = sorted(results)
    return {
        'requests': len(s), 'errors': errors[0], 'seconds': elapsed, 'rps': len(s) / elapsed,
        'p50': percentile(s, 0.5), 'p90': percentile(s, 0.9), 'p99': percentile(s, 0.99),
        'max': s[-1] if s else float('nan'), 'itemsPerList': items[0],
    }


def main(argv):
    cmd = argv[1]
    if cmd == 'define':
        out = cmd_define(argv[2], argv[3], argv[4], int(argv[5]))
    elif cmd == 'undefine-all':
        out = cmd_undefine_all(argv[2])
    elif cmd == 'load':
        out = cmd_load(argv[2], argv[3], int(argv[4]), float(argv[5]), argv[6] if len(argv) > 6 else None)
    else:
        raise SystemExit('unknown command ' + cmd)
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv)
