"""What CloudFormation itself works out from a (translated) template before it
creates anything: which conditions hold for given parameter values, which
resources exist, what each one depends on, an order that respects that, and
the value of an intrinsic function once the resources it names exist.

Plain Python, no dependencies, so both scripts/check-transformed.py (in
.venv-sam) and scripts/emulated-deploy.py (in .venv, with moto) import it.
Only the intrinsics this project's templates use are implemented; any other
is an error, never a silent pass.

CloudFormation's rules followed here
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html,
 .../intrinsic-function-reference.html):
  - a Ref, Fn::GetAtt or ${...} in Fn::Sub naming a resource anywhere in a
    resource (Properties, Metadata, ...) makes it depend on that resource, as
    does DependsOn;
  - inside Fn::If only the branch the condition selects counts, which is how
    a resource can depend on a conditional one;
  - a resource whose Condition is false does not exist, and nothing may
    refer to it outside a branch that is not taken.
"""
import re

PSEUDO = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
    "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}

# ${Name} or ${Name.Attr} in Fn::Sub; ${!Literal} is not a reference.
SUB_VAR = re.compile(r"\$\{(?!!)([A-Za-z0-9_:]+)(?:\.([A-Za-z0-9_.]+))?\}")


class TemplateError(Exception):
    """The template would be rejected, or a value cannot be worked out."""


def parameter_values(template, given):
    """Every parameter's value: `given`, else its default (a Number as a
    number, anything else as a string). A parameter with neither, or a value
    outside AllowedValues or AllowedPattern, is an error, as in
    CloudFormation, which matches a CommaDelimitedList's AllowedPattern
    against each of its values."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in given:
            value = given[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no value and no default")
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        items = str(value).split(",") if spec.get("Type") == "CommaDelimitedList" else [str(value)]
        for item in items if pattern is not None else []:
            if not re.fullmatch(pattern, item):
                raise TemplateError(f"parameter {name}: {item!r} does not match {pattern}")
        if spec.get("Type") == "Number":
            number = float(value)
            values[name] = int(number) if number.is_integer() else number
        else:
            values[name] = str(value)
    unknown = set(given) - set(values)
    if unknown:
        raise TemplateError(f"no such parameters: {sorted(unknown)}")
    return values


def evaluate_conditions(template, params):
    conditions = template.get("Conditions", {})
    done = {}

    def value(node):
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                if arg not in params:
                    raise TemplateError(f"condition refers to {arg}, not a parameter")
                return params[arg]
            if fn == "Condition":
                return cond(arg)
            if fn == "Fn::Equals":
                a, b = (value(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not value(arg[0])
            if fn == "Fn::And":
                return all(value(x) for x in arg)
            if fn == "Fn::Or":
                return any(value(x) for x in arg)
            raise TemplateError(f"unsupported function {fn} in a condition")
        if isinstance(node, (str, int, float, bool)):
            return node
        raise TemplateError(f"unsupported condition expression {node!r}")

    def cond(name):
        if name not in conditions:
            raise TemplateError(f"no such condition {name}")
        if name not in done:
            done[name] = bool(value(conditions[name]))
        return done[name]

    return {name: cond(name) for name in conditions}


def exists(resource, conditions):
    name = resource.get("Condition")
    if name is None:
        return True
    if name not in conditions:
        raise TemplateError(f"no such condition {name}")
    return conditions[name]


def references(node, conditions):
    """`(logical id, attribute or None)` of every resource or parameter
    `node` refers to, following only the taken branch of each Fn::If."""
    found = []

    def walk(n):
        if isinstance(n, list):
            for x in n:
                walk(x)
            return
        if not isinstance(n, dict):
            return
        if len(n) == 1:
            (fn, arg), = n.items()
            if fn == "Ref":
                if arg not in PSEUDO:
                    found.append((arg, None))
                return
            if fn == "Fn::GetAtt":
                target, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                found.append((target, attr))
                return
            if fn == "Fn::If":
                name, yes, no = arg
                if name not in conditions:
                    raise TemplateError(f"Fn::If names no condition {name}")
                walk(yes if conditions[name] else no)
                return
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                for m in SUB_VAR.finditer(text):
                    if m.group(1) not in variables and m.group(1) not in PSEUDO:
                        found.append((m.group(1), m.group(2)))
                walk(list(variables.values()))
                return
        for v in n.values():
            walk(v)

    walk(node)
    return found


def dependencies(template, logical_id, conditions):
    """The resources `logical_id` waits for: everything it refers to, and
    its DependsOn. An error if one of them does not exist."""
    resources = template["Resources"]
    res = resources[logical_id]
    params = template.get("Parameters", {})
    body = {k: v for k, v in res.items() if k not in ("Type", "Condition", "DependsOn")}
    deps = []
    for target, _ in references(body, conditions):
        if target in params:
            continue
        if target not in resources:
            raise TemplateError(f"{logical_id} refers to {target}, which is not in the template")
        deps.append(target)
    depends_on = res.get("DependsOn", [])
    for target in [depends_on] if isinstance(depends_on, str) else depends_on:
        if target not in resources:
            raise TemplateError(f"{logical_id} DependsOn {target}, which is not in the template")
        deps.append(target)
    for target in deps:
        if not exists(resources[target], conditions):
            raise TemplateError(
                f"{logical_id} depends on {target}, whose condition "
                f"{resources[target]['Condition']} is false")
    return list(dict.fromkeys(deps))


def dependency_graph(template, conditions):
    """`{logical id: direct dependencies}` of every resource that exists."""
    return {
        lid: dependencies(template, lid, conditions)
        for lid, res in template["Resources"].items()
        if exists(res, conditions)
    }


def closure(graph, logical_id):
    """Everything `logical_id` waits for, directly or not."""
    seen, todo = set(), list(graph[logical_id])
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(graph[x])
    return seen


def creation_order(graph, reverse=False):
    """Resources in template order (or its reverse), each moved just after
    what it waits for (depth first): a resource is created as early as its
    dependencies allow, so a missing dependency on something later in that
    order shows. CloudFormation may pick any order the dependencies allow;
    the two directions are two extremes of it. A cycle is an error, as in
    CloudFormation."""
    order, state = [], {}

    def visit(x, path):
        if state.get(x) == "done":
            return
        if state.get(x) == "active":
            raise TemplateError("circular dependency: " + " -> ".join(path + [x]))
        state[x] = "active"
        for d in graph[x]:
            visit(d, path + [x])
        state[x] = "done"
        order.append(x)

    for x in reversed(list(graph)) if reverse else graph:
        visit(x, [])
    return order


class Resolver:
    """Values of intrinsic functions, given what exists: `ref(logical id)`
    and `getatt(logical id, attribute)` answer for resources (and raise
    TemplateError for what they do not know), `pseudo` holds the pseudo
    parameters, `params` the parameter values, `dynamic(service, rest)` the
    value of a `{{resolve:service:rest}}` dynamic reference."""

    def __init__(self, conditions, params, pseudo, ref, getatt, dynamic=None):
        self.conditions = conditions
        self.params = params
        self.pseudo = pseudo
        self.ref = ref
        self.getatt = getatt
        self.dynamic = dynamic

    def _ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        return self.ref(name)

    def resolve(self, node):
        if isinstance(node, list):
            out = [self.resolve(x) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if isinstance(node, str):
            return self._dynamic_references(node)
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self._ref(arg)
            if fn == "Fn::GetAtt":
                target, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.getatt(target, attr)
            if fn == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.conditions[name] else no)
            if fn == "Fn::Join":
                sep, items = arg
                return sep.join(str(x) for x in self.resolve(items))
            if fn == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if fn == "Fn::Split":
                sep, text = arg
                return self.resolve(text).split(sep)
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                values = {k: self.resolve(v) for k, v in variables.items()}

                def sub(m):
                    name, attr = m.group(1), m.group(2)
                    if name in values and attr is None:
                        return str(values[name])
                    if attr is not None:
                        return str(self.getatt(name, attr))
                    return str(self._ref(name))

                out = SUB_VAR.sub(sub, text).replace("${!", "${")
                return self._dynamic_references(out)
            if fn.startswith("Fn::") or fn == "Condition":
                raise TemplateError(f"unsupported intrinsic function {fn}")
        out = {}
        for k, v in node.items():
            v = self.resolve(v)
            if v is not NO_VALUE:
                out[k] = v
        return out

    def _dynamic_references(self, text):
        def sub(m):
            if self.dynamic is None:
                raise TemplateError(f"dynamic reference {m.group(0)} cannot be resolved here")
            return self.dynamic(m.group(1), m.group(2))

        return re.sub(r"\{\{resolve:([a-z-]+):(.+?)\}\}", sub, text)


class _NoValue:
    def __repr__(self):
        return "AWS::NoValue"


NO_VALUE = _NoValue()
