"""What the benchmark scripts print about the machine they ran on (imported by bench_*.py;
standard library only)."""
import os


def cpu_name():
    """The CPU as /proc/cpuinfo names it, with its family and model numbers, its widest vector
    instruction set and the CPUs this process sees: "AMD EPYC (family 25 model 17, AVX-512, 2 vCPUs)"."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                info.setdefault(k.strip(), v.strip())
    except OSError:
        pass
    flags = info.get("flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return (f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')} model {info.get('model', '?')}, "
            f"{isa}, {os.cpu_count()} vCPUs)")


def load_average():
    """The one-minute load average, as a string."""
    with open("/proc/loadavg") as f:
        return f.read().split()[0]
