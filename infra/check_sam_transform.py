"""Runs the SAM transform on template.yaml, offline, as `sam deploy` would.

cfn-lint and `sam validate --lint` do not run every check of the transform:
a duplicate method on one path, for instance, passes both and fails only at
deploy time. This runs the SAM translator itself (from the pinned SAM CLI's
venv) with placeholder code locations and region, and fails on any error.

It then checks, on the transform's output with CloudFormation's conditions
evaluated:
- that the API has exactly one stage, the one named by `StageName`, and that
  it carries the throttling, the access logs and (with `WafRateLimits`) the
  WAF association: SAM adds a stage `Stage` unless `OpenApiVersion` is set;
- what each `SignupMode` deploys: the sign-up method, its authorization and
  whether its function exists;
- that `SetApiGatewayAccountRole` sets the account's CloudWatch role (to a
  role only API Gateway acting for this account may assume) before the API,
  or leaves it alone and still deploys the API.
"""

import re
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

SIGN_UP = "/v0/users/anonymous"
# The console's routes, without an authorizer (wire/src/routes.rs, Page).
CONSOLE = {"/console", "/console/{asset}"}


class NoManagedPolicies:
    """The template names no managed policy by name; nothing to look up."""

    def load(self):
        return {}


class Conditions:
    """CloudFormation's condition functions over one set of parameter values."""

    def __init__(self, template, parameters):
        self.conditions = template.get("Conditions", {})
        self.parameters = {
            name: str(parameters.get(name, spec.get("Default")))
            for name, spec in template.get("Parameters", {}).items()
        }

    def value(self, node):
        if isinstance(node, dict) and list(node) == ["Ref"]:
            return self.parameters[node["Ref"]]
        return str(node)

    def holds(self, node):
        if isinstance(node, str):
            return self.holds(self.conditions[node])
        (function, args), = node.items()
        if function == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if function == "Fn::Not":
            return not self.holds(args[0])
        if function == "Fn::And":
            return all(self.holds(a) for a in args)
        if function == "Fn::Or":
            return any(self.holds(a) for a in args)
        if function == "Condition":
            return self.holds(args)
        raise ValueError(f"cannot evaluate {node}")

    def choose(self, node):
        """`node` with every Fn::If chosen; None for AWS::NoValue."""
        if isinstance(node, dict):
            if list(node) == ["Fn::If"]:
                name, then, otherwise = node["Fn::If"]
                return self.choose(then if self.holds(name) else otherwise)
            if node == {"Ref": "AWS::NoValue"}:
                return None
            chosen = {k: self.choose(v) for k, v in node.items()}
            return {k: v for k, v in chosen.items() if v is not None}
        if isinstance(node, list):
            return [c for c in (self.choose(v) for v in node) if c is not None]
        return node


def translate(text, parameters):
    return transform(yaml_parse(text), parameters, NoManagedPolicies())


def check_signup_mode(text, mode):
    """What `SignupMode=mode` deploys; raises AssertionError if it is wrong."""
    template = translate(text, {"SignupMode": mode})
    conditions = Conditions(template, {"SignupMode": mode})
    resources = template["Resources"]
    exists = {k for k, r in resources.items() if "Condition" not in r or conditions.holds(r["Condition"])}
    body = conditions.choose(resources["LockApi"]["Properties"]["Body"])
    method = body["paths"].get(SIGN_UP, {}).get("post")
    function = {"CreateUserFunction", "CreateUserPermission"} & exists
    stage = next(r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage")
    settings = conditions.choose(stage["Properties"].get("MethodSettings", []))
    throttled = [m for m in settings if m.get("ResourcePath") == "/~1v0~1users~1anonymous"]
    if mode == "off":
        assert method is None, f"off: {SIGN_UP} still has a method"
        assert not function, f"off: {function} still deployed"
        # API Gateway refuses a stage setting for a method the API lacks.
        assert not throttled, f"off: the stage still throttles {SIGN_UP}"
        return
    assert throttled, f"{mode}: {SIGN_UP} has no throttle of its own"
    assert function == {"CreateUserFunction", "CreateUserPermission"}, f"{mode}: {function}"
    assert "CreateUserFunction.Arn" in str(method["x-amazon-apigateway-integration"]["uri"])
    schemes = [name for requirement in method["security"] for name in requirement]
    if mode == "iam":
        assert schemes == ["AWS_IAM"], f"iam: {schemes}"
        sigv4 = body["securityDefinitions"]["AWS_IAM"]
        assert sigv4["x-amazon-apigateway-authtype"] == "awsSigv4", sigv4
    else:
        # SAM's marker for "no authorizer" (the API's default one does not apply).
        assert schemes == ["NONE"], f"open: {schemes}"
    # The console's page and assets are open; every other route needs a key.
    console = [m for path, item in body["paths"].items() if path in CONSOLE for m in item.values()]
    assert len(console) == len(CONSOLE) and all(m["security"] == [{"NONE": []}] for m in console), console
    other = [
        m for path, item in body["paths"].items() if path != SIGN_UP and path not in CONSOLE
        for m in item.values()
    ]
    assert other and all(m["security"] == [{"ApiKeyAuthorizer": []}] for m in other), mode


def check_one_stage(text, parameters):
    """Exactly one stage, with every protection on it; raises AssertionError if not."""
    template = translate(text, parameters)
    conditions = Conditions(template, parameters)
    resources = {
        k: r for k, r in template["Resources"].items()
        if "Condition" not in r or conditions.holds(r["Condition"])
    }
    of_type = lambda kind: {k: r for k, r in resources.items() if r["Type"] == kind}
    stages = of_type("AWS::ApiGateway::Stage")
    assert len(stages) == 1, f"{parameters}: stages {sorted(stages)}"
    (stage_id, stage), = stages.items()
    for name, deployment in of_type("AWS::ApiGateway::Deployment").items():
        # A Deployment's StageName creates a stage outside the template's control.
        assert "StageName" not in deployment["Properties"], f"{name} makes a stage of its own"
    properties = conditions.choose(stage["Properties"])
    assert properties["StageName"] == {"Ref": "StageName"}, properties["StageName"]
    throttles = {m["ResourcePath"]: m for m in properties.get("MethodSettings", [])}
    assert "ThrottlingRateLimit" in throttles.get("/*", {}), f"{stage_id}: no stage throttle"
    assert "AccessLogSetting" in properties, f"{stage_id}: no access logs"
    associations = of_type("AWS::WAFv2::WebACLAssociation")
    if parameters.get("WafRateLimits") == "true":
        assert len(associations) == 1, f"WAF associations: {sorted(associations)}"
        (association,) = associations.values()
        assert stage_id in str(association.get("DependsOn")), association
        assert "/stages/${StageName}" in str(association["Properties"]["ResourceArn"]), association
    else:
        assert not associations, f"WAF off, yet {sorted(associations)}"


def check_account_role(text, setting):
    """What `SetApiGatewayAccountRole=setting` deploys; raises AssertionError if it is wrong."""
    parameters = {"SetApiGatewayAccountRole": setting}
    template = translate(text, parameters)
    conditions = Conditions(template, parameters)
    resources = {
        k: r for k, r in template["Resources"].items()
        if "Condition" not in r or conditions.holds(r["Condition"])
    }
    api = resources["LockApi"]
    assert "Condition" not in api, "the API is deployed whatever the setting"
    handle = resources[api["DependsOn"]]
    chosen = conditions.choose(handle.get("Metadata", {}))
    if setting == "false":
        assert "ApiGatewayAccount" not in resources and "ApiGatewayLogsRole" not in resources
        assert "ApiGatewayAccount" not in str(chosen), chosen
        return
    assert chosen == {"AccountSetting": {"Ref": "ApiGatewayAccount"}}, chosen
    trust = resources["ApiGatewayLogsRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    source = statement["Condition"]["StringEquals"]["aws:SourceAccount"]
    assert source == {"Ref": "AWS::AccountId"}, statement


def main(path):
    text = open(path, encoding="utf-8").read()
    # Local folders are uploaded by `sam deploy`; the translator wants S3 URIs.
    text = re.sub(r"CodeUri: functions\b\S*", "CodeUri: s3://placeholder/code.zip", text)
    resources = translate(text, {})["Resources"]
    print(f"SAM transform of {path}: {len(resources)} resources")
    for mode in ["open", "iam", "off"]:
        for waf in ["false", "true"]:
            check_one_stage(text, {"SignupMode": mode, "WafRateLimits": waf})
    print("one stage (StageName), throttled and logged, with WAF on it when WafRateLimits is on")
    for mode in ["open", "iam", "off"]:
        check_signup_mode(text, mode)
    print("SignupMode open, iam and off each deploy the sign-up route they promise")
    for setting in ["true", "false"]:
        check_account_role(text, setting)
    print("SetApiGatewayAccountRole sets the account's role (this account only) first, or leaves it")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")
