"""The peer: python-dynamodb-lock acquire + release cycles on one lock.

Prints one JSON line: {"cycles": N, "seconds": S}. The table (partition key
`lock_key`, sort key `sort_key`) must exist: the library's own
create_dynamodb_table calls UpdateTimeToLive, which dynalite lacks.
"""

import argparse
import json
import time

import boto3
from python_dynamodb_lock.python_dynamodb_lock import DynamoDBLockClient


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--cycles", type=int, required=True)
    args = parser.parse_args()
    resource = boto3.resource(
        "dynamodb",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    client = DynamoDBLockClient(resource, table_name=args.table)
    # One warm-up cycle: connection and first-call costs are not the lock's.
    client.acquire_lock("peer-warm-up").release()
    started = time.perf_counter()
    for _ in range(args.cycles):
        lock = client.acquire_lock("peer-cycle")
        lock.release()
    seconds = time.perf_counter() - started
    client.close()
    print(json.dumps({"cycles": args.cycles, "seconds": seconds}))


if __name__ == "__main__":
    main()
