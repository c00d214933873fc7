#!/usr/bin/env python3
"""An emulated `sam deploy` of template.yaml on moto server, no AWS account.

For each scenario: SAM's translation of the template (scripts/sam_translate.py,
with the scenario's parameter values) is created as a CloudFormation stack on
moto, the functions' code being a dummy zip in moto's S3, and must reach
CREATE_COMPLETE. Then everything moto's CloudFormation does not model is
replayed through the services' own APIs (Cognito, Secrets Manager, API
Gateway), one resource at a time in the order CloudFormation could pick
(scripts/cfn_model.py: template order, each resource just after what it
depends on), with every Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Join and
{{resolve:...}} worked out from what really exists, and the functions'
environments re-applied from those values. Finally the outputs are resolved
and what the scenario promises is checked.

Found by running it (moto 5.2.5): moto's CloudFormation creates the IAM
roles, log groups, DynamoDB table, Lambda functions and permissions and the
RestApi, but skips every Cognito, Secrets Manager and API Gateway
account/stage/usage-plan/API-key resource, creates the RestApi without
importing its OpenAPI Body (so the Deployment, which needs methods, fails:
it is replayed after the body is imported with PutRestApi), and resolves a
reference to a skipped resource to nothing.

What the real services enforce and moto does not is checked at replay, and
listed in PRECONDITIONS; once the stack is complete, every alarm's AWS
dimensions must name a function, API stage or web ACL that exists (CloudWatch
accepts an alarm on nothing and keeps it quiet). Each variant that must fail
(a region without a logging role and SetApiGatewayLogsRole=false; the
translation without the stage's ordering, or without the machine client's
DependsOn; a misspelt Fn::GetAtt; the alarm topic on the AWS managed key; a
wildcard operator; the users' usage key locked before CloudFormation read it;
a dangling Ref; AuthDomainPrefix changed from one prefix to another in one
update) is run too, and must fail for the expected reason, so the emulation
keeps its teeth. The one update it replays is that domain change, and its
two-step form, which must succeed.

Run under scripts/with-moto.sh with .venv's python (boto3 comes with moto):
  scripts/with-moto.sh .venv/bin/python scripts/emulated-deploy.py
"""
import copy
import fnmatch
import functools
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile

import boto3
import botocore.exceptions
from openapi_spec_validator import OpenAPIV30SpecValidator

import cfn_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = "items-api"
CODE_BUCKET, CODE_KEY = "emulated-deploy-artifacts", "code.zip"

# What API Gateway itself refuses and moto accepts; checked before each
# replayed call.
PRECONDITIONS = """\
  - a stage with access logging needs the region's API Gateway account setting
    to name a CloudWatch role first ("CloudWatch Logs role ARN must be set in
    account settings to enable logging");
  - that role must exist and trust apigateway.amazonaws.com;
  - a usage plan's API stages must exist;
  - an app client's OAuth scopes must exist (ScopeDoesNotExistException);
  - a user pool has at most one prefix domain ("User pool already has a
    domain configured"), which is why AuthDomainPrefix changes in two updates;
  - the models in the imported body must be OpenAPI 3.0 schemas;
  - a web ACL association must name an existing stage, and a rule's custom
    response a body the web ACL defines (WAFNonexistentItemException);
  - CloudFormation resolves {{resolve:secretsmanager:...}} as the deployer,
    whom the secret's resource policy may deny;
  - an alarm can notify an encrypted topic only if the topic's key lets
    cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey (never the
    AWS managed alias/aws/sns: "CloudWatch Alarms does not have authorization
    to access the SNS topic encryption key")."""


class Failed(Exception):
    """The deploy would fail: the message says where and why."""


def endpoint():
    url = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urllib.parse.urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("emulated-deploy: AWS_ENDPOINT_URL must be moto on loopback; "
                 "run under scripts/with-moto.sh")
    return url


def reset_moto():
    req = urllib.request.Request(endpoint() + "/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).read()


@functools.cache
def sam_tools():
    subprocess.run([os.path.join(ROOT, "scripts/tools.sh"), "sam"], check=True)


def translate(params):
    """SAM's translation with `params`, by .venv-sam's python."""
    sam_tools()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "translated.json")
        subprocess.run(
            [os.path.join(ROOT, ".venv-sam/bin/python"), os.path.join(ROOT, "scripts/sam_translate.py"),
             os.path.join(ROOT, "template.yaml"), out] + [f"{k}={v}" for k, v in params.items()],
            check=True)
        with open(out) as f:
            return json.load(f)


def client(service):
    return boto3.client(service, endpoint_url=endpoint())


def only(props, known, where):
    """`props`, refusing any key the replay does not map: a property the
    emulation would silently drop is a property it does not check."""
    extra = set(props) - set(known)
    if extra:
        raise Failed(f"{where}: the emulation does not replay {sorted(extra)}; "
                     "extend scripts/emulated-deploy.py")
    return props


def lower_keys(d):
    """CloudFormation's PascalCase keys as API Gateway's camelCase."""
    if isinstance(d, dict):
        return {k[0].lower() + k[1:]: lower_keys(v) for k, v in d.items()}
    if isinstance(d, list):
        return [lower_keys(x) for x in d]
    return d


class Deploy:
    def __init__(self, template, given, reverse=False):
        self.t = template
        self.given = dict(given)
        self.params = cfn_model.parameter_values(template, given)
        self.conditions = cfn_model.evaluate_conditions(template, self.params)
        self.graph = cfn_model.dependency_graph(template, self.conditions)
        self.order = cfn_model.creation_order(self.graph, reverse)
        self.physical = {}   # logical id -> what Ref returns
        self.attrs = {}      # logical id -> {attribute: value}, replayed resources
        self.moto_made = {}  # logical id -> resource type, created by moto's CloudFormation
        self.replayed = []
        self.watched = []    # (alarm, namespace, dimensions) of every metric an alarm watches
        self.openapi_warnings = 0
        self.resolver = cfn_model.Resolver(
            self.conditions, self.params,
            {"AWS::Region": os.environ["AWS_REGION"], "AWS::AccountId": "123456789012",
             "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
             "AWS::StackName": STACK},
            self.ref, self.getatt, self.dynamic)

    # ----------------------------------------------------------- resolution
    def ref(self, lid):
        if lid not in self.physical:
            raise Failed(f"Ref {lid}: it does not exist (yet)")
        return self.physical[lid]

    def getatt(self, lid, attr):
        if lid in self.attrs:
            if attr not in self.attrs[lid]:
                raise Failed(f"Fn::GetAtt {lid}.{attr}: no such attribute")
            return self.attrs[lid][attr]
        if lid not in self.moto_made:
            raise Failed(f"Fn::GetAtt {lid}.{attr}: it does not exist (yet)")
        kind, pid = self.moto_made[lid], self.physical[lid]
        if attr == "Arn" and kind == "AWS::IAM::Role":
            return client("iam").get_role(RoleName=pid)["Role"]["Arn"]
        if attr == "Arn" and kind == "AWS::Lambda::Function":
            return client("lambda").get_function(FunctionName=pid)["Configuration"]["FunctionArn"]
        if attr == "Arn" and kind == "AWS::Logs::LogGroup":
            groups = client("logs").describe_log_groups(logGroupNamePrefix=pid)["logGroups"]
            return next(g["arn"] for g in groups if g["logGroupName"] == pid)
        if attr == "Arn" and kind == "AWS::DynamoDB::Table":
            return client("dynamodb").describe_table(TableName=pid)["Table"]["TableArn"]
        if attr == "RootResourceId" and kind == "AWS::ApiGateway::RestApi":
            items = client("apigateway").get_resources(restApiId=pid)["items"]
            return next(r["id"] for r in items if r["path"] == "/")
        raise Failed(f"Fn::GetAtt {lid}.{attr}: the emulation has no value for {kind}.{attr}")

    def dynamic(self, service, rest):
        if service != "secretsmanager":
            raise Failed(f"{{{{resolve:{service}:...}}}}: not emulated")
        parts = rest.split(":")
        n = 7 if rest.startswith("arn:") else 1
        secret_id, fields = ":".join(parts[:n]), parts[n:]
        deployer_may_read(secret_id)
        value = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        if len(fields) > 1 and fields[1]:
            value = json.loads(value)[fields[1]]
        return value

    def props(self, lid):
        return self.resolver.resolve(self.t["Resources"][lid].get("Properties", {}))

    # ------------------------------------------------------------- creation
    def run(self, before=None):
        reset_moto()
        if before:
            before()
        self.create_stack()
        for lid in self.order:
            kind = self.t["Resources"][lid]["Type"]
            if lid in self.moto_made:
                if kind == "AWS::ApiGateway::RestApi":
                    self.import_body(lid)
                continue
            handler = REPLAY.get(kind)
            if handler is None:
                raise Failed(f"{lid}: moto's CloudFormation skips {kind} and the emulation "
                             "has no replay for it; extend scripts/emulated-deploy.py")
            try:
                handler(self, lid, self.props(lid))
            except (botocore.exceptions.ClientError, botocore.exceptions.ParamValidationError) as e:
                raise Failed(f"{lid} ({kind}): {e}") from e
            self.replayed.append(lid)
        self.reapply_environments()
        for watched in self.watched:
            watches_something(*watched)
        return self.outputs()

    def create_stack(self):
        """The translation on moto's CloudFormation, minus what it cannot
        create (the Deployment, which needs the body moto does not import)."""
        t = copy.deepcopy(self.t)
        for lid, res in list(t["Resources"].items()):
            if res["Type"] == "AWS::ApiGateway::Deployment" or res["Type"] in OPERATIONS_TYPES:
                del t["Resources"][lid]
            elif res["Type"] == "AWS::Lambda::Function":
                res["Properties"]["Code"] = {"S3Bucket": CODE_BUCKET, "S3Key": CODE_KEY}
        # Stage references to the Deployment would go with it; moto skips the
        # stage anyway (replayed below).
        s3 = client("s3")
        s3.create_bucket(Bucket=CODE_BUCKET)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
        s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=buf.getvalue())
        cfn = client("cloudformation")
        try:
            cfn.create_stack(
                StackName=STACK, TemplateBody=json.dumps(t),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in self.given.items()],
                Capabilities=["CAPABILITY_IAM"])
        except botocore.exceptions.ClientError as e:
            raise Failed(f"moto's CloudFormation refused the stack: {e}") from e
        deadline = time.time() + 120
        while True:
            stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
            if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.time() > deadline:
                break
            time.sleep(0.2)
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise Failed(f"stack {stack['StackStatus']}: {stack.get('StackStatusReason')}")
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]:
            self.moto_made[r["LogicalResourceId"]] = r["ResourceType"]
            self.physical[r["LogicalResourceId"]] = r["PhysicalResourceId"]

    def import_body(self, lid):
        """What moto's CloudFormation drops from the RestApi: its OpenAPI
        body (validated by moto's OpenAPI checker) and key source."""
        p = self.props(lid)
        only(p, {"Name", "Body", "Parameters", "EndpointConfiguration", "ApiKeySourceType",
                 "Description", "FailOnWarnings"}, lid)
        # API Gateway imports a body despite OpenAPI warnings unless
        # FailOnWarnings is set (CloudFormation's default: false); SAM's own
        # output has some (empty `responses`, undeclared path parameters).
        fail_on_warnings = bool(p.get("FailOnWarnings", False))
        errors = list(OpenAPIV30SpecValidator(p["Body"]).iter_errors())
        self.openapi_warnings = len(errors)
        # The models (components/schemas) are the exception: an importer that
        # reads them as OpenAPI 3.0 schemas drops what OpenAPI 3.0 cannot hold
        # (a type list, aws/serverless-application-model#2374), so the
        # gateway would validate other rules than the document's.
        for e in errors:
            where = list(e.absolute_path)
            if where[:2] == ["components", "schemas"]:
                raise Failed(f"{lid}: model {where[2]} is not an OpenAPI 3.0 schema, which "
                             f"API Gateway imports it as: {e.message[:300]}")
        body = copy.deepcopy(p["Body"])
        # moto 5.2.5's PutRestApi crashes (500) on an integration without
        # `uri` and `httpMethod`, which a MOCK one (the CORS preflight) does
        # not need; give it empty ones.
        for ops in body.get("paths", {}).values():
            for method, op in ops.items():
                integ = op.get("x-amazon-apigateway-integration", {})
                if integ.get("type") == "mock":
                    integ.setdefault("uri", "")
                    integ.setdefault("httpMethod", method.upper())
        api = client("apigateway")
        try:
            api.put_rest_api(restApiId=self.physical[lid], mode="overwrite",
                             failOnWarnings=fail_on_warnings, parameters=p.get("Parameters", {}),
                             body=json.dumps(body).encode())
            if "ApiKeySourceType" in p:
                api.update_rest_api(restApiId=self.physical[lid], patchOperations=[
                    {"op": "replace", "path": "/apiKeySource", "value": p["ApiKeySourceType"]}])
        except botocore.exceptions.ClientError as e:
            raise Failed(f"{lid} body: {e}") from e

    def reapply_environments(self):
        """moto's CloudFormation resolved the functions' references to
        skipped resources to nothing; set what CloudFormation would."""
        lam = client("lambda")
        for lid, kind in self.moto_made.items():
            if kind != "AWS::Lambda::Function":
                continue
            env = self.props(lid).get("Environment", {}).get("Variables", {})
            # A Ref to a parameter is a string in CloudFormation, whatever
            # the parameter's Type (a Number included).
            env = {k: v if isinstance(v, str) else json.dumps(v) for k, v in env.items()}
            lam.update_function_configuration(FunctionName=self.physical[lid],
                                              Environment={"Variables": env})

    def outputs(self):
        out = {}
        for name, spec in self.t.get("Outputs", {}).items():
            if cfn_model.exists(spec, self.conditions):
                out[name] = self.resolver.resolve(spec["Value"])
        return out

    def environment(self, binary):
        """The environment of the function built from `binary`, as deployed."""
        for lid, res in self.t["Resources"].items():
            if res.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == binary:
                fn = client("lambda").get_function(FunctionName=self.physical[lid])
                return fn["Configuration"]["Environment"]["Variables"]
        raise Failed(f"no function built from {binary}")


# ---------------------------------------------------------------- replays
# One function per resource type moto's CloudFormation skips: the service
# call CloudFormation's handler makes, from the resolved properties.

def secret(d, lid, p):
    only(p, {"Name", "Description", "SecretString", "GenerateSecretString", "KmsKeyId"}, lid)
    sm = client("secretsmanager")
    value = p.get("SecretString")
    if "GenerateSecretString" in p:
        g = only(p["GenerateSecretString"], {"PasswordLength", "ExcludePunctuation",
                                             "ExcludeCharacters", "IncludeSpace"}, lid)
        value = sm.get_random_password(**g)["RandomPassword"]
    args = {"Name": p.get("Name", f"{lid}-emulated"), "SecretString": value}
    if "Description" in p:
        args["Description"] = p["Description"]
    arn = sm.create_secret(**args)["ARN"]
    d.physical[lid] = arn
    d.attrs[lid] = {"Id": arn}


def deployer_may_read(secret_id):
    """What Secrets Manager enforces and moto does not: CloudFormation
    resolves {{resolve:secretsmanager:...}} with the deployer's credentials,
    and a Deny of GetSecretValue in the secret's resource policy that does
    not except the deployer refuses it (the Denies this template writes:
    Principal "*", ArnNotEquals or ArnNotLike on aws:PrincipalArn)."""
    policy = client("secretsmanager").get_resource_policy(SecretId=secret_id).get("ResourcePolicy")
    for st in json.loads(policy).get("Statement", []) if policy else []:
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if st.get("Effect") != "Deny" or "secretsmanager:GetSecretValue" not in actions:
            continue
        condition = st.get("Condition", {})
        excepted = []
        for op in ("ArnNotEquals", "ArnNotLike"):
            arns = condition.get(op, {}).get("aws:PrincipalArn", [])
            excepted += [(op, a) for a in ([arns] if isinstance(arns, str) else arns)]
        if not any(a == DEPLOYER or (op == "ArnNotLike" and fnmatch.fnmatchcase(DEPLOYER, a))
                   for op, a in excepted):
            raise Failed(f"{{{{resolve:secretsmanager:{secret_id}}}}}: AccessDenied: the secret's "
                         f"resource policy denies GetSecretValue to the deployer {DEPLOYER}")


def secret_policy(d, lid, p):
    only(p, {"SecretId", "ResourcePolicy", "BlockPublicPolicy"}, lid)
    policy = p["ResourcePolicy"]
    client("secretsmanager").put_resource_policy(
        SecretId=p["SecretId"], BlockPublicPolicy=p.get("BlockPublicPolicy", False),
        ResourcePolicy=policy if isinstance(policy, str) else json.dumps(policy))
    d.physical[lid] = p["SecretId"]
    d.attrs[lid] = {"Id": p["SecretId"]}


def user_pool(d, lid, p):
    p = dict(only(p, {
        "UserPoolName", "UsernameAttributes", "AutoVerifiedAttributes", "UsernameConfiguration",
        "AdminCreateUserConfig", "Policies", "MfaConfiguration", "EnabledMfas",
        "AccountRecoverySetting", "DeletionProtection", "UserPoolTier", "UserPoolAddOns"}, lid))
    mfas = p.pop("EnabledMfas", [])
    p["PoolName"] = p.pop("UserPoolName")
    idp = client("cognito-idp")
    pool = idp.create_user_pool(**p)["UserPool"]
    if "SOFTWARE_TOKEN_MFA" in mfas:
        idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration=p["MfaConfiguration"],
                                     SoftwareTokenMfaConfiguration={"Enabled": True})
    d.physical[lid] = pool["Id"]
    d.attrs[lid] = {"Arn": pool["Arn"], "UserPoolId": pool["Id"],
                    "ProviderName": f"cognito-idp.{os.environ['AWS_REGION']}.amazonaws.com/{pool['Id']}"}


def user_pool_client(d, lid, p):
    only(p, {
        "UserPoolId", "ClientName", "GenerateSecret", "ExplicitAuthFlows",
        "PreventUserExistenceErrors", "EnableTokenRevocation", "AccessTokenValidity",
        "IdTokenValidity", "RefreshTokenValidity", "TokenValidityUnits", "AllowedOAuthFlows",
        "AllowedOAuthScopes", "AllowedOAuthFlowsUserPoolClient", "SupportedIdentityProviders",
        "CallbackURLs", "LogoutURLs"}, lid)
    idp = client("cognito-idp")
    # What Cognito refuses and moto does not check: scopes of no resource server.
    servers = idp.list_resource_servers(UserPoolId=p["UserPoolId"], MaxResults=50)["ResourceServers"]
    known = {f"{s['Identifier']}/{sc['ScopeName']}" for s in servers for sc in s.get("Scopes", [])}
    unknown = [s for s in p.get("AllowedOAuthScopes", []) if "/" in s and s not in known]
    if unknown:
        raise Failed(f"{lid}: scopes {unknown} do not exist (yet): Cognito answers "
                     "ScopeDoesNotExistException")
    c = idp.create_user_pool_client(**p)["UserPoolClient"]
    d.physical[lid] = c["ClientId"]
    d.attrs[lid] = {"ClientId": c["ClientId"], "Name": c["ClientName"]}
    if "ClientSecret" in c:
        d.attrs[lid]["ClientSecret"] = c["ClientSecret"]


def resource_server(d, lid, p):
    only(p, {"UserPoolId", "Identifier", "Name", "Scopes"}, lid)
    client("cognito-idp").create_resource_server(**p)
    d.physical[lid] = p["Identifier"]
    d.attrs[lid] = {}


def user_pool_group(d, lid, p):
    only(p, {"UserPoolId", "GroupName", "Description", "Precedence", "RoleArn"}, lid)
    client("cognito-idp").create_group(**p)
    d.physical[lid] = p["GroupName"]
    d.attrs[lid] = {}


def user_pool_domain(d, lid, p):
    only(p, {"UserPoolId", "Domain", "ManagedLoginVersion"}, lid)
    idp = client("cognito-idp")
    # What Cognito refuses and moto 5.2.5 does not: a second prefix domain
    # on a pool.
    existing = idp.describe_user_pool(UserPoolId=p["UserPoolId"])["UserPool"].get("Domain")
    if existing:
        raise Failed(f"{lid}: InvalidParameterException: User pool already has a domain "
                     f"configured ({existing}, asked for {p['Domain']})")
    idp.create_user_pool_domain(**p)
    d.physical[lid] = p["Domain"]
    d.attrs[lid] = {}


def account(d, lid, p):
    only(p, {"CloudWatchRoleArn"}, lid)
    arn = p["CloudWatchRoleArn"]
    try:
        role = client("iam").get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
    except botocore.exceptions.ClientError as e:
        raise Failed(f"{lid}: the role {arn} does not exist") from e
    trust = json.dumps(role["AssumeRolePolicyDocument"])
    if "apigateway.amazonaws.com" not in trust:
        raise Failed(f"{lid}: {arn} does not trust apigateway.amazonaws.com")
    client("apigateway").update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
    d.physical[lid] = "apigateway-account"
    d.attrs[lid] = {"Id": "apigateway-account"}


def deployment(d, lid, p):
    only(p, {"RestApiId", "Description", "StageName"}, lid)
    if "StageName" in p:
        raise Failed(f"{lid}: a deployment naming a stage creates a second stage")
    dep = client("apigateway").create_deployment(restApiId=p["RestApiId"],
                                                 description=p.get("Description", ""))
    d.physical[lid] = dep["id"]
    d.attrs[lid] = {"DeploymentId": dep["id"]}


def stage(d, lid, p):
    only(p, {"RestApiId", "StageName", "DeploymentId", "TracingEnabled", "MethodSettings",
             "AccessLogSetting", "Variables", "Description", "CacheClusterEnabled",
             "CacheClusterSize", "Tags"}, lid)
    api = client("apigateway")
    if "AccessLogSetting" in p and not api.get_account().get("cloudwatchRoleArn"):
        raise Failed(f"{lid}: CloudWatch Logs role ARN must be set in account settings to "
                     "enable logging (the region's API Gateway account setting has no role yet)")
    api.create_stage(restApiId=p["RestApiId"], stageName=p["StageName"],
                     deploymentId=p["DeploymentId"], tracingEnabled=p.get("TracingEnabled", False),
                     variables=p.get("Variables", {}))
    ops = []
    if "AccessLogSetting" in p:
        ops += [{"op": "replace", "path": "/accessLogSettings/destinationArn",
                 "value": p["AccessLogSetting"]["DestinationArn"]},
                {"op": "replace", "path": "/accessLogSettings/format",
                 "value": p["AccessLogSetting"]["Format"]}]
    for m in p.get("MethodSettings", []):
        prefix = f"/{m['ResourcePath'].lstrip('/').replace('/', '~1') or '~1'}/{m['HttpMethod']}"
        for key, path in [("ThrottlingRateLimit", "throttling/rateLimit"),
                          ("ThrottlingBurstLimit", "throttling/burstLimit"),
                          ("MetricsEnabled", "metrics/enabled"),
                          ("DataTraceEnabled", "logging/dataTrace")]:
            if key in m:
                ops.append({"op": "replace", "path": f"{prefix}/{path}", "value": str(m[key]).lower()})
    if ops:
        api.update_stage(restApiId=p["RestApiId"], stageName=p["StageName"], patchOperations=ops)
    d.physical[lid] = p["StageName"]
    d.attrs[lid] = {}


def usage_plan(d, lid, p):
    only(p, {"UsagePlanName", "Description", "ApiStages", "Throttle", "Quota", "Tags"}, lid)
    api = client("apigateway")
    for s in p.get("ApiStages", []):
        try:
            api.get_stage(restApiId=s["ApiId"], stageName=s["Stage"])
        except botocore.exceptions.ClientError as e:
            raise Failed(f"{lid}: API stage {s['ApiId']}/{s['Stage']} does not exist (yet)") from e
    args = {"name": p["UsagePlanName"], "apiStages": lower_keys(p.get("ApiStages", []))}
    for key in ("Description", "Throttle", "Quota"):
        if key in p:
            args[key[0].lower() + key[1:]] = lower_keys(p[key])
    if "Tags" in p:
        args["tags"] = {t["Key"]: t["Value"] for t in p["Tags"]}
    plan = api.create_usage_plan(**args)
    d.physical[lid] = plan["id"]
    d.attrs[lid] = {"Id": plan["id"]}


def api_key(d, lid, p):
    only(p, {"Name", "Description", "Enabled", "Value"}, lid)
    key = client("apigateway").create_api_key(**lower_keys(p))
    d.physical[lid] = key["id"]
    d.attrs[lid] = {"APIKeyId": key["id"]}


def usage_plan_key(d, lid, p):
    only(p, {"KeyId", "KeyType", "UsagePlanId"}, lid)
    api = client("apigateway")
    api.get_usage_plan(usagePlanId=p["UsagePlanId"])
    k = api.create_usage_plan_key(usagePlanId=p["UsagePlanId"], keyId=p["KeyId"],
                                  keyType=p["KeyType"])
    d.physical[lid] = k["id"]
    d.attrs[lid] = {"Id": k["id"]}


def alarm(d, lid, p):
    allowed = {"AlarmDescription", "ComparisonOperator", "Threshold", "EvaluationPeriods",
               "TreatMissingData", "AlarmActions", "OKActions", "Metrics", "Namespace",
               "MetricName", "Dimensions", "Statistic", "Period", "DatapointsToAlarm"}
    only(p, allowed, lid)
    name = f"{STACK}-{lid}"
    args = {k: v for k, v in p.items() if k != "Threshold"}
    args["Threshold"] = float(p["Threshold"])
    for key in ("EvaluationPeriods", "Period", "DatapointsToAlarm"):
        if key in args:
            args[key] = int(args[key])
    for m in args.get("Metrics", []):
        if "MetricStat" in m:
            m["MetricStat"]["Period"] = int(m["MetricStat"]["Period"])
    for arn in dict.fromkeys(p.get("AlarmActions", []) + p.get("OKActions", [])):
        cloudwatch_may_publish(lid, arn)
    metrics = [p] if "MetricName" in p else [m["MetricStat"]["Metric"] for m in p.get("Metrics", [])
                                             if "MetricStat" in m]
    # Checked once the stack is complete: nothing orders an alarm after what
    # its dimensions name by value (a stage name, an API name).
    d.watched += [(lid, m["Namespace"], {x["Name"]: x["Value"] for x in m.get("Dimensions", [])})
                  for m in metrics]
    cw = client("cloudwatch")
    cw.put_metric_alarm(AlarmName=name, **args)
    arn = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    d.physical[lid] = name
    d.attrs[lid] = {"Arn": arn}


def watches_something(lid, namespace, dims):
    """CloudWatch accepts an alarm on a metric nobody publishes and keeps it
    quiet forever: the dimensions of AWS's metrics must name what exists."""
    if namespace == "AWS/Lambda":
        try:
            client("lambda").get_function(FunctionName=dims["FunctionName"])
        except botocore.exceptions.ClientError as e:
            raise Failed(f"{lid}: watches function {dims['FunctionName']}, which does not exist") from e
    elif namespace == "AWS/ApiGateway":
        api = client("apigateway")
        ids = [a["id"] for a in api.get_rest_apis()["items"] if a["name"] == dims["ApiName"]]
        if len(ids) != 1 or dims["Stage"] not in [st["stageName"] for st in
                                                 api.get_stages(restApiId=ids[0])["item"]]:
            raise Failed(f"{lid}: watches API {dims['ApiName']} stage {dims['Stage']}, "
                         "which does not exist")
    elif namespace == "AWS/WAFV2":
        acls = client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
        if dims["WebACL"] not in [a["Name"] for a in acls] or dims["Region"] != os.environ["AWS_REGION"]:
            raise Failed(f"{lid}: watches web ACL {dims['WebACL']} in {dims['Region']}, "
                         "which does not exist")


def cloudwatch_may_publish(lid, topic_arn):
    """What CloudWatch needs to notify an encrypted topic, which moto does
    not check: its key's policy lets cloudwatch.amazonaws.com use the key
    (an AWS managed key's policy never does)."""
    if ":sns:" not in topic_arn:
        return
    attrs = client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    key = attrs.get("KmsMasterKeyId")
    if not key:
        return
    refused = (f"{lid}: CloudWatch Alarms does not have authorization to access the SNS topic "
               f"encryption key {key}: every notification would be dropped")
    if key.startswith("alias/aws/") or ":alias/aws/" in key:
        raise Failed(refused)
    policy = client("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    # moto 5.2.5's CloudFormation keeps a KeyPolicy as the template's object,
    # and GetKeyPolicy answers it as such instead of as a JSON string.
    policy = json.loads(policy) if isinstance(policy, str) else policy
    granted = set()
    for st in policy.get("Statement", []):
        principal = st.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        if st.get("Effect") == "Allow" and "cloudwatch.amazonaws.com" in services:
            actions = st.get("Action", [])
            granted.update([actions] if isinstance(actions, str) else actions)
    for needed in ("kms:Decrypt", "kms:GenerateDataKey"):
        if not any(fnmatch.fnmatchcase(needed, a) for a in granted):
            raise Failed(f"{refused} (its policy does not allow {needed})")


def dashboard(d, lid, p):
    only(p, {"DashboardName", "DashboardBody"}, lid)
    # CloudWatch refuses a body that is not JSON; so does the emulation.
    try:
        json.loads(p["DashboardBody"])
    except ValueError as e:
        raise Failed(f"{lid}: DashboardBody is not JSON: {e}") from e
    client("cloudwatch").put_dashboard(DashboardName=p["DashboardName"],
                                       DashboardBody=p["DashboardBody"])
    d.physical[lid] = p["DashboardName"]


def query_definition(d, lid, p):
    only(p, {"Name", "QueryString", "LogGroupNames"}, lid)
    logs = client("logs")
    for group in p.get("LogGroupNames", []):
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            raise Failed(f"{lid}: log group {group} does not exist")
    # moto 5.2.5 does not implement PutQueryDefinition (it answers 500): the
    # emulation checks what the call needs (the log groups exist, a query is
    # given) and records a made-up id.
    if not p["QueryString"].strip():
        raise Failed(f"{lid}: an empty QueryString")
    d.physical[lid] = f"emulated-{lid}"


def topic(d, lid, p):
    only(p, {"DisplayName", "KmsMasterKeyId", "TopicName"}, lid)
    attrs = {k: v for k, v in p.items() if k in ("DisplayName", "KmsMasterKeyId")}
    arn = client("sns").create_topic(Name=p.get("TopicName", f"{STACK}-{lid}"),
                                     Attributes=attrs)["TopicArn"]
    d.physical[lid] = arn
    d.attrs[lid] = {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}


def subscription(d, lid, p):
    only(p, {"TopicArn", "Protocol", "Endpoint"}, lid)
    arn = client("sns").subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"],
                                  Endpoint=p["Endpoint"])["SubscriptionArn"]
    d.physical[lid] = arn


def web_acl(d, lid, p):
    only(p, {"Name", "Description", "Scope", "DefaultAction", "VisibilityConfig",
             "CustomResponseBodies", "Rules", "AssociationConfig", "Tags"}, lid)
    # What WAF refuses and moto does not check: a custom response naming a
    # body the web ACL does not define.
    bodies = p.get("CustomResponseBodies", {})
    for rule in p.get("Rules", []):
        response = rule.get("Action", {}).get("Block", {}).get("CustomResponse", {})
        key = response.get("CustomResponseBodyKey")
        if key is not None and key not in bodies:
            raise Failed(f"{lid}: rule {rule['Name']} answers with body {key!r}, which is not "
                         "among CustomResponseBodies (WAFNonexistentItemException)")
    args = {k: v for k, v in p.items() if k != "Tags"}
    acl = client("wafv2").create_web_acl(**args)["Summary"]
    d.physical[lid] = f"{acl['Name']}|{acl['Id']}|{p['Scope']}"
    d.attrs[lid] = {"Arn": acl["ARN"], "Id": acl["Id"]}


def web_acl_association(d, lid, p):
    only(p, {"ResourceArn", "WebACLArn"}, lid)
    client("wafv2").associate_web_acl(WebACLArn=p["WebACLArn"], ResourceArn=p["ResourceArn"])
    # moto accepts any resource ARN; WAF refuses one that names no stage
    # (WAFNonexistentItemException). moto records the association on the
    # stage it names, if any.
    arn = p["ResourceArn"]
    api_id, stage_name = arn.split("/restapis/")[-1].split("/stages/")
    try:
        stage = client("apigateway").get_stage(restApiId=api_id, stageName=stage_name)
    except botocore.exceptions.ClientError as e:
        raise Failed(f"{lid}: {arn} names no stage (WAFNonexistentItemException)") from e
    if stage.get("webAclArn") != p["WebACLArn"]:
        raise Failed(f"{lid}: the stage {stage_name} is not associated with {p['WebACLArn']}")
    d.physical[lid] = arn


# moto's CloudFormation does not model these (an alarm's Arn is "an undefined
# resource" to it): they are left out of its stack and replayed.
OPERATIONS_TYPES = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
                    "AWS::Logs::QueryDefinition", "AWS::SNS::Topic", "AWS::SNS::Subscription"}

REPLAY = {
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::CloudWatch::Dashboard": dashboard,
    "AWS::Logs::QueryDefinition": query_definition,
    "AWS::SNS::Topic": topic,
    "AWS::SNS::Subscription": subscription,
    "AWS::SecretsManager::Secret": secret,
    "AWS::SecretsManager::ResourcePolicy": secret_policy,
    "AWS::Cognito::UserPool": user_pool,
    "AWS::Cognito::UserPoolClient": user_pool_client,
    "AWS::Cognito::UserPoolResourceServer": resource_server,
    "AWS::Cognito::UserPoolGroup": user_pool_group,
    "AWS::Cognito::UserPoolDomain": user_pool_domain,
    "AWS::ApiGateway::Account": account,
    "AWS::ApiGateway::Deployment": deployment,
    "AWS::ApiGateway::Stage": stage,
    "AWS::ApiGateway::UsagePlan": usage_plan,
    "AWS::ApiGateway::ApiKey": api_key,
    "AWS::ApiGateway::UsagePlanKey": usage_plan_key,
    "AWS::WAFv2::WebACL": web_acl,
    "AWS::WAFv2::WebACLAssociation": web_acl_association,
}


# -------------------------------------------------------------- scenarios

def check(cond, msg):
    if not cond:
        raise Failed(msg)


def existing_logging_role():
    """An account whose region already has a logging role (another stack's)."""
    iam = client("iam")
    role = iam.create_role(RoleName="other-stack-apigw-logs", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "apigateway.amazonaws.com"}}]}))
    client("apigateway").update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Role"]["Arn"]}])
    return role["Role"]["Arn"]


def common_checks(d, out):
    check(d.moto_made and d.replayed, "nothing was created")
    api = client("apigateway")
    (rest_api,) = [lid for lid, k in d.moto_made.items() if k == "AWS::ApiGateway::RestApi"]
    methods = sum(len(r.get("resourceMethods", {}))
                  for r in api.get_resources(restApiId=d.physical[rest_api])["items"])
    check(methods >= 6, f"the API has {methods} methods after the body import")
    stages = api.get_stages(restApiId=d.physical[rest_api])["item"]
    check(len(stages) == 1 and stages[0].get("accessLogSettings"), f"one logged stage: {stages}")
    env = d.environment("authorizer")
    pool = env["COGNITO_USER_POOL_ID"]
    clients = client("cognito-idp").list_user_pool_clients(UserPoolId=pool, MaxResults=60)
    ids = {c["ClientId"]: c["ClientName"] for c in clients["UserPoolClients"]}
    named = env["COGNITO_CLIENT_IDS"].split(",")
    check(all(c in ids for c in named), f"COGNITO_CLIENT_IDS {named} names clients of no pool")
    check(out["UserPoolId"] == pool and out["UserPoolClientId"] in named, f"outputs {out}")
    partner_tiers(d, out, api)
    return {ids[c] for c in named}


# The partner tiers' defaults (template.yaml's parameters).
TIER_DEFAULTS = {"standard": (10, 20, 100000, "MONTH"), "premium": (50, 100, 1000000, "MONTH")}


def partner_tiers(d, out, api):
    """Each tier's output names a usage plan tagged with the tier, on the
    API's stage, with the tier's throttle and quota: what `partner-keys
    --tier NAME --stack STACK` reads."""
    tiers = {k[len("PartnerUsagePlan"):].lower(): v for k, v in out.items()
             if k.startswith("PartnerUsagePlan")}
    check(set(tiers) == set(TIER_DEFAULTS), f"partner tier outputs {sorted(tiers)}")
    (rest_api,) = [lid for lid, k in d.moto_made.items() if k == "AWS::ApiGateway::RestApi"]
    shown = []
    for tier, plan_id in sorted(tiers.items()):
        plan = api.get_usage_plan(usagePlanId=plan_id)
        got = (plan["throttle"]["rateLimit"], plan["throttle"]["burstLimit"],
               plan["quota"]["limit"], plan["quota"]["period"])
        check(plan.get("tags", {}).get("partner-tier") == tier, f"{tier}: tags {plan.get('tags')}")
        check(got == TIER_DEFAULTS[tier], f"{tier}: throttle and quota {got}")
        check([s["apiId"] for s in plan["apiStages"]] == [d.physical[rest_api]],
              f"{tier}: stages {plan['apiStages']}")
        shown.append(f"{tier}={plan_id} ({got[0]:g} rps, burst {got[1]}, {got[2]}/{got[3]})")
    print(f"emulated-deploy:   partner tiers (outputs PartnerUsagePlan<Tier>): {', '.join(shown)}")


def fresh_region_with_machine_client(reverse):
    d = Deploy(translate(PARAMS_FRESH), PARAMS_FRESH, reverse)
    out = d.run()
    names = common_checks(d, out)
    check(names == {"first-party", "machine"}, f"the authorizer accepts {names}")
    role = client("apigateway").get_account().get("cloudwatchRoleArn", "")
    check(role == d.getatt("ApiGatewayLogsRole", "Arn"), f"the region's logging role is {role!r}")
    idp = client("cognito-idp")
    machine = idp.describe_user_pool_client(UserPoolId=out["UserPoolId"],
                                            ClientId=out["MachineClientId"])["UserPoolClient"]
    check(machine["AllowedOAuthFlows"] == ["client_credentials"] and machine.get("ClientSecret")
          and sorted(machine["AllowedOAuthScopes"]) == ["items/delete", "items/read", "items/write"],
          f"machine client {machine}")
    domain = idp.describe_user_pool_domain(Domain=PARAMS_FRESH["AuthDomainPrefix"])["DomainDescription"]
    check(domain.get("UserPoolId") == out["UserPoolId"], f"domain {domain}")
    check(out["TokenEndpoint"].startswith(f"https://{PARAMS_FRESH['AuthDomainPrefix']}.auth."),
          out["TokenEndpoint"])
    (acl,) = client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    check(d.attrs["WebAcl"]["Arn"] == acl["ARN"], f"web ACL {acl}")
    return d


def account_with_a_logging_role():
    kept = {}
    d = Deploy(translate(PARAMS_KEEP), PARAMS_KEEP)
    out = d.run(before=lambda: kept.setdefault("arn", existing_logging_role()))
    names = common_checks(d, out)
    check(names == {"first-party"}, f"without a domain prefix the authorizer accepts {names}")
    role = client("apigateway").get_account().get("cloudwatchRoleArn")
    check(role == kept["arn"], f"the region's logging role became {role}, not the existing one")
    check("ApiGatewayLogsRole" not in d.physical and "MachineClientId" not in out
          and not client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"],
          "optional resources were created")
    return d


def domain_of(d):
    (lid,) = [k for k, r in d.t["Resources"].items() if r["Type"] == "AWS::Cognito::UserPoolDomain"]
    return lid


def replace_domain(d, prefix):
    """The one step of a stack update that changes AuthDomainPrefix from one
    prefix to another: Domain is a replacement property of
    AWS::Cognito::UserPoolDomain, and CloudFormation creates a replacement
    before it deletes the old resource (in the update's cleanup phase). The
    emulation has no general stack update; it replays this resource."""
    lid = domain_of(d)
    old = d.physical[lid]
    user_pool_domain(d, lid, {**d.props(lid), "Domain": prefix})
    client("cognito-idp").delete_user_pool_domain(UserPoolId=d.props(lid)["UserPoolId"], Domain=old)


def remove_domain(d):
    """An update with AuthDomainPrefix empty: the domain's condition turns
    false, so CloudFormation deletes it."""
    lid = domain_of(d)
    client("cognito-idp").delete_user_pool_domain(UserPoolId=d.props(lid)["UserPoolId"],
                                                  Domain=d.physical.pop(lid))


def domain_prefix_changed_in_one_update():
    d = Deploy(translate(PARAMS_FRESH), PARAMS_FRESH)
    d.run()
    try:
        replace_domain(d, "items-emulated-next")
    except Failed as e:
        if "already has a domain" not in str(e):
            raise
        return str(e)
    raise Failed("the prefix changed in one update, but Cognito refuses a second domain on a pool")


def domain_prefix_changed_in_two_updates():
    d = Deploy(translate(PARAMS_FRESH), PARAMS_FRESH)
    out = d.run()
    remove_domain(d)
    lid = domain_of(d)
    user_pool_domain(d, lid, {**d.props(lid), "Domain": "items-emulated-next"})
    pool = client("cognito-idp").describe_user_pool(UserPoolId=out["UserPoolId"])["UserPool"]
    check(pool.get("Domain") == "items-emulated-next", f"the pool's domain is {pool.get('Domain')}")
    return d


def must_fail(name, template, given, reason, before=None, reverse=False):
    try:
        Deploy(template, given, reverse).run(before=before)
    except (Failed, cfn_model.TemplateError) as e:
        if reason not in str(e):
            raise Failed(f"{name}: failed, but not for the expected reason ({reason!r}): {e}") from e
        return str(e)
    raise Failed(f"{name}: deployed, but a real deploy would fail ({reason})")


def mutated(t, mutate, what):
    """A copy of `t` changed by `mutate(copy)`, which returns how many places
    it changed: none means the variant no longer tests anything."""
    t = copy.deepcopy(t)
    if not mutate(t):
        raise Failed(f"the variant '{what}' changes nothing in this template; "
                     "update scripts/emulated-deploy.py")
    return t


def without_stage_ordering(t):
    """The translation without the stage's wait for the account setting: the
    Metadata references to the Account resource removed."""
    def mutate(t):
        accounts = {k for k, r in t["Resources"].items() if r["Type"] == "AWS::ApiGateway::Account"}
        holds = {name: True for name in t.get("Conditions", {})}
        removed = 0
        for res in t["Resources"].values():
            meta = res.get("Metadata", {})
            for key in [k for k, v in meta.items()
                        if any(x in accounts for x, _ in cfn_model.references(v, holds))]:
                del meta[key]
                removed += 1
        return removed
    return mutated(t, mutate, "stage ordering removed")


def without_scope_ordering(t):
    """The translation without the clients' DependsOn on the resource server."""
    def mutate(t):
        return sum(res.pop("DependsOn", None) is not None for res in t["Resources"].values()
                   if res["Type"] == "AWS::Cognito::UserPoolClient")
    return mutated(t, mutate, "client DependsOn removed")


def with_wrong_getatt(t):
    """A misspelt attribute (Arnn) in a Fn::GetAtt of a role, which moto's
    CloudFormation creates."""
    def mutate(t):
        roles = {k for k, r in t["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
        for res in t["Resources"].values():
            stack = [res.get("Properties", {})]
            while stack:
                n = stack.pop()
                if isinstance(n, dict):
                    att = n.get("Fn::GetAtt")
                    if isinstance(att, list) and att[0] in roles and att[1] == "Arn":
                        att[1] = "Arnn"
                        return 1
                    stack.extend(n.values())
                elif isinstance(n, list):
                    stack.extend(n)
        return 0
    return mutated(t, mutate, "misspelt GetAtt")


def with_aws_managed_topic_key(t):
    """The alarm topic encrypted with the AWS managed key alias/aws/sns."""
    def mutate(t):
        changed = 0
        for res in t["Resources"].values():
            if res["Type"] == "AWS::SNS::Topic" and "KmsMasterKeyId" in res["Properties"]:
                res["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
                changed += 1
        return changed
    return mutated(t, mutate, "AWS managed topic key")


def without_depends_on(t, lid):
    """The translation without `lid`'s DependsOn, `lid` moved first in
    template order: created as early as CloudFormation may then create it."""
    def mutate(t):
        res = t["Resources"].pop(lid)
        t["Resources"] = {lid: res, **t["Resources"]}
        return res.pop("DependsOn", None) is not None
    return mutated(t, mutate, f"{lid} DependsOn removed")


def with_dangling_ref(t):
    """The authorizer's pool id a Ref to a resource that is not there."""
    def mutate(t):
        changed = 0
        for res in t["Resources"].values():
            env = res.get("Properties", {}).get("Environment", {}).get("Variables", {})
            if "COGNITO_USER_POOL_ID" in env:
                env["COGNITO_USER_POOL_ID"] = {"Ref": "UserPoool"}
                changed += 1
        return changed
    return mutated(t, mutate, "dangling Ref")


# The role `sam deploy` runs as; CloudFormation acts with its credentials.
DEPLOYER = "arn:aws:iam::123456789012:role/deployer"
OPERATORS = f"arn:aws:iam::123456789012:role/partner-keys-operator,{DEPLOYER}"
PARAMS_FRESH = {"AllowedOrigin": "https://app.example.com", "SetApiGatewayLogsRole": "true",
                "AuthDomainPrefix": "items-emulated", "PartnerKeyOperatorArns": OPERATORS,
                "AlarmEmail": "oncall@example.com", "WafEnabled": "true"}
PARAMS_KEEP = {"AllowedOrigin": "*", "SetApiGatewayLogsRole": "false",
               "PartnerKeyOperatorArns": OPERATORS}


def main():
    endpoint()
    started = time.time()
    fresh = translate(PARAMS_FRESH)
    runs = [
        ("first deploy in a fresh region, with the machine client",
         lambda: fresh_region_with_machine_client(reverse=False)),
        ("the same, replayed in reverse template order",
         lambda: fresh_region_with_machine_client(reverse=True)),
        ("first deploy in an account that has a logging role (kept)", account_with_a_logging_role),
        ("must fail: SetApiGatewayLogsRole=false in a region without a logging role",
         lambda: must_fail("no role", translate(PARAMS_KEEP), PARAMS_KEEP,
                           "CloudWatch Logs role ARN must be set")),
        ("must fail: AuthDomainPrefix changed from one prefix to another in one update",
         domain_prefix_changed_in_one_update),
        ("AuthDomainPrefix changed in two updates (to empty, then to the new prefix)",
         domain_prefix_changed_in_two_updates),
        ("must fail: the stage not ordered after the account setting",
         lambda: must_fail("no ordering", without_stage_ordering(fresh), PARAMS_FRESH,
                           "CloudWatch Logs role ARN must be set")),
        ("must fail: the machine client not ordered after its scopes (reverse order)",
         lambda: must_fail("no scope ordering", without_scope_ordering(fresh), PARAMS_FRESH,
                           "do not exist (yet)", reverse=True)),
        ("must fail: a misspelt Fn::GetAtt attribute",
         lambda: must_fail("getatt", with_wrong_getatt(fresh), PARAMS_FRESH, "Arnn")),
        ("must fail: the alarm topic encrypted with the AWS managed key",
         lambda: must_fail("topic key", with_aws_managed_topic_key(fresh), PARAMS_FRESH,
                           "CloudWatch Alarms does not have authorization")),
        ("must fail: a wildcard in PartnerKeyOperatorArns",
         lambda: must_fail("operator wildcard", fresh,
                           {**PARAMS_FRESH, "PartnerKeyOperatorArns":
                            OPERATORS + ",arn:aws:iam::123456789012:role/Admin*"},
                           "does not match")),
        ("must fail: the users' usage key locked before CloudFormation read it, "
         "deployed by a role that is no operator",
         lambda: must_fail("usage key", without_depends_on(fresh, "UserUsageKeySecretPolicy"),
                           {**PARAMS_FRESH, "PartnerKeyOperatorArns":
                            "arn:aws:iam::123456789012:role/partner-keys-operator"},
                           "denies GetSecretValue to the deployer")),
        ("must fail: a Ref to a resource that is not in the template",
         lambda: must_fail("ref", with_dangling_ref(fresh), PARAMS_FRESH, "UserPoool")),
    ]
    for name, run in runs:
        t = time.time()
        try:
            result = run()
        except (Failed, cfn_model.TemplateError) as e:
            sys.exit(f"emulated-deploy: {name}: FAILED: {e}")
        detail = (f"{len(result.moto_made)} resources by moto's CloudFormation, "
                  f"{len(result.replayed)} replayed, {result.openapi_warnings} OpenAPI warnings"
                  if isinstance(result, Deploy) else f"refused: {result}")
        print(f"emulated-deploy: {name}: ok ({detail}; {time.time() - t:.1f} s)")
    print(f"emulated-deploy: all {len(runs)} scenarios as expected in {time.time() - started:.1f} s. "
          f"Checked at replay, beyond moto:\n{PRECONDITIONS}")


if __name__ == "__main__":
    main()
