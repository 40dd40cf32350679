#!/usr/bin/env python3
"""Exec -> exit of function binaries whose Runtime API refuses the
connection: init plus one refused connect, no emulator in the way. Runs the
variants interleaved and prints p50, p25 and p75 in ms. PERFORMANCE.md used
it to find what cold init spends on root certificates:

    bench/cold_exec.py 80 \\
      store=target/release/get-lock \\
      bundle=target/release/get-lock:SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt,SSL_CERT_DIR=/nonexistent,DYNAMODB_CA_ROOTS=system

Each variant is NAME=BINARY[:VAR=VALUE,...] (extra environment variables).
"""
import statistics
import subprocess
import sys
import time

BASE_ENV = {
    "PATH": "/usr/bin:/bin",
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",  # discard port: refused
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
    "LOCKS_TABLE": "locks",
    "API_KEYS_TABLE": "api-keys",
    "RUST_LOG": "info",
}


def parse(variant):
    name, _, rest = variant.partition("=")
    binary, _, extra = rest.partition(":")
    env = dict(BASE_ENV)
    for pair in filter(None, extra.split(",")):
        key, _, value = pair.partition("=")
        env[key] = value
    return name, binary, env


def main():
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    runs, variants = int(sys.argv[1]), [parse(v) for v in sys.argv[2:]]
    times = {name: [] for name, _, _ in variants}
    for _ in range(runs):
        for name, binary, env in variants:
            started = time.perf_counter()
            subprocess.run([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[name].append((time.perf_counter() - started) * 1000)
    for name, samples in times.items():
        p25, _, p75 = statistics.quantiles(samples, n=4)
        print(f"{name:24} p50 {statistics.median(samples):6.2f} ms  p25 {p25:6.2f}  p75 {p75:6.2f}")


if __name__ == "__main__":
    main()
