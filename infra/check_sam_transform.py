"""Runs the SAM transform on template.yaml, offline, as `sam deploy` would.

cfn-lint and `sam validate --lint` do not run every check of the transform:
a duplicate method on one path, for instance, passes both and fails only at
deploy time. This runs the SAM translator itself (from the pinned SAM CLI's
venv) with placeholder code locations and region, and fails on any error.
"""

import re
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policy by name; nothing to look up."""

    def load(self):
        return {}


def main(path):
    text = open(path, encoding="utf-8").read()
    # Local folders are uploaded by `sam deploy`; the translator wants S3 URIs.
    text = re.sub(r"CodeUri: functions/\S+", "CodeUri: s3://placeholder/code.zip", text)
    resources = transform(yaml_parse(text), {}, NoManagedPolicies())["Resources"]
    print(f"SAM transform of {path}: {len(resources)} resources")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
