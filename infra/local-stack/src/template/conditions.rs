//! The template's conditions and `!If`s, evaluated as CloudFormation would
//! with every parameter at its default: the local stack runs the template
//! that `sam deploy` without overrides creates.

use serde_yaml_ng::{Mapping, Value};

use super::{reference, shape, TemplateError};

/// The `Conditions` and `Parameters` sections of one template.
#[derive(Clone, Copy)]
pub(super) struct Conditions<'a> {
    conditions: Option<&'a Mapping>,
    parameters: Option<&'a Mapping>,
}

impl<'a> Conditions<'a> {
    /// The conditions of the template `doc`.
    pub(super) fn of(doc: &'a Value) -> Self {
        Self {
            conditions: doc.get("Conditions").and_then(Value::as_mapping),
            parameters: doc.get("Parameters").and_then(Value::as_mapping),
        }
    }

    /// Whether a resource exists: it has no `Condition`, or its condition holds.
    pub(super) fn exists(&self, resource: &Value) -> Result<bool, TemplateError> {
        match resource.get("Condition").and_then(Value::as_str) {
            Some(name) => self.holds(name),
            None => Ok(true),
        }
    }

    /// A value with its `!If`s chosen; `None` where one chose `AWS::NoValue`.
    pub(super) fn choose(&self, value: &'a Value) -> Result<Option<&'a Value>, TemplateError> {
        let Some(("If", args)) = intrinsic(value) else {
            return Ok((reference(value, "Ref") != Some("AWS::NoValue")).then_some(value));
        };
        let [condition, then, otherwise] = arguments::<3>(args, "If")?;
        let name = condition
            .as_str()
            .ok_or_else(|| shape("!If names its condition with a string"))?;
        self.choose(if self.holds(name)? { then } else { otherwise })
    }

    /// A parameter's default where `value` is `!Ref Parameter`, else `value`.
    pub(super) fn resolve(&self, value: &'a Value) -> Option<&'a Value> {
        match reference(value, "Ref") {
            Some(name) => self.parameters?.get(name)?.get("Default"),
            None => Some(value),
        }
    }

    fn holds(&self, name: &str) -> Result<bool, TemplateError> {
        let condition = self
            .conditions
            .and_then(|c| c.get(name))
            .ok_or_else(|| shape(&format!("condition {name} is not declared")))?;
        self.truth(condition)
    }

    fn truth(&self, value: &Value) -> Result<bool, TemplateError> {
        match intrinsic(value) {
            Some(("Equals", args)) => {
                let [a, b] = arguments::<2>(args, "Equals")?;
                Ok(scalar(self.resolve(a))? == scalar(self.resolve(b))?)
            }
            Some(("Not", args)) => Ok(!self.truth(&arguments::<1>(args, "Not")?[0])?),
            Some(("And", args)) => all_of(args, |c| self.truth(c)),
            Some(("Or", args)) => Ok(!all_of(args, |c| Ok(!self.truth(c)?))?),
            Some(("Condition", name)) => self.holds(
                name.as_str()
                    .ok_or_else(|| shape("!Condition needs a name"))?,
            ),
            _ => Err(shape(&format!("cannot evaluate condition {value:?}"))),
        }
    }
}

/// The intrinsics conditions are made of.
const INTRINSICS: [&str; 6] = ["If", "Equals", "Not", "And", "Or", "Condition"];

/// `!Name args` or `{"Fn::Name": args}` (and `{"Condition": name}`), for
/// the names in [`INTRINSICS`]: (Name, args).
fn intrinsic(value: &Value) -> Option<(&'static str, &Value)> {
    let (name, args) = match value {
        Value::Tagged(tagged) => (
            INTRINSICS.into_iter().find(|n| tagged.tag == *n)?,
            &tagged.value,
        ),
        Value::Mapping(map) if map.len() == 1 => {
            let (key, args) = map.iter().next()?;
            let key = key.as_str()?;
            let bare = key.strip_prefix("Fn::").unwrap_or(key);
            (INTRINSICS.into_iter().find(|n| *n == bare)?, args)
        }
        _ => return None,
    };
    Some((name, args))
}

/// The `N` arguments of `!name`.
fn arguments<'v, const N: usize>(
    args: &'v Value,
    name: &str,
) -> Result<&'v [Value; N], TemplateError> {
    args.as_sequence()
        .and_then(|list| <&[Value; N]>::try_from(list.as_slice()).ok())
        .ok_or_else(|| shape(&format!("!{name} takes {N} arguments")))
}

/// Whether `check` holds for every argument of `!And`/`!Or`.
fn all_of(
    args: &Value,
    mut check: impl FnMut(&Value) -> Result<bool, TemplateError>,
) -> Result<bool, TemplateError> {
    let list = args
        .as_sequence()
        .ok_or_else(|| shape("!And and !Or take a list"))?;
    for item in list {
        if !check(item)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A string, number or boolean, as CloudFormation compares them (as text).
fn scalar(value: Option<&Value>) -> Result<String, TemplateError> {
    match value {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        other => Err(shape(&format!("cannot compare {other:?} in !Equals"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
Parameters:
  Mode: {Type: String, Default: iam}
  Size: {Type: Number, Default: 0}
Conditions:
  Iam: !Equals [!Ref Mode, iam]
  Sized: !Not [!Equals [!Ref Size, 0]]
  Either: !Or [!Condition Iam, !Condition Sized]
  Both: {"Fn::And": [{"Condition": Iam}, {"Condition": Sized}]}
Value:
  a: !If [Either, yes, no]
  b: !If [Both, yes, !Ref AWS::NoValue]
  c: {"Fn::If": [Iam, !If [Sized, one, two], three]}
"#;

    #[test]
    fn conditions_and_ifs_follow_the_parameter_defaults() {
        let doc: Value = serde_yaml_ng::from_str(DOC).unwrap();
        let conditions = Conditions::of(&doc);
        let pick = |key: &str| {
            let value = &doc["Value"][key];
            conditions
                .choose(value)
                .unwrap()
                .map(|v| v.as_str().unwrap().to_owned())
        };
        assert_eq!(pick("a").as_deref(), Some("yes"));
        assert_eq!(pick("b"), None);
        assert_eq!(pick("c").as_deref(), Some("two"));
        let missing: Value = serde_yaml_ng::from_str("!If [Nope, 1, 2]").unwrap();
        assert!(conditions.choose(&missing).is_err());
    }
}
