//! A message's metrics as twin updates: what a birth declares (names, aliases, datatypes,
//! units, template members) and the values of births and DATA.

use super::aliases::{Aliases, MetricDef};
use super::proto::{self, Metric, Payload, ProtoError, RawValue};
use super::scalar::MetricIn;
use super::value::{self, MetricValue, datatype};
use crate::time::Timestamp;
use crate::twin::{PropertyName, TwinId};
use crate::update::TwinUpdate;

/// A twin's metrics by alias and by name, as its last birth declared them (looked up for
/// every metric of every message: aliases by position where they allow, names with a fast
/// hasher).
#[derive(Debug, Default)]
#[repr(C)] // aliases first: what DATA reads (see `Device`)
pub(super) struct Declared {
    by_alias: Aliases,
    by_name: foldhash::HashMap<PropertyName, u32>,
}

impl Declared {
    /// Starts loading the aliases' declarations (what DATA reads for every metric).
    pub(super) fn prefetch_aliases(&self) {
        self.by_alias.prefetch();
    }
}

/// Template definitions by name.
pub(super) type Templates = foldhash::HashMap<String, proto::Template>;

/// A message's metrics: still in its bytes (a message applied as it arrives: DATA is read in
/// place, without building the message) or decoded (one that was held for reordering).
#[derive(Clone, Copy)]
pub(super) enum Body<'a> {
    Raw(&'a [u8]),
    Decoded(&'a Payload),
}

fn metric_time(timestamp: Option<u64>, time: Timestamp) -> Timestamp {
    timestamp.map_or(time, |ms| Timestamp((ms as i64).saturating_mul(1000)))
}

/// A birth's metrics: declared (name, alias, datatype), their units, and their values.
#[allow(clippy::too_many_arguments)]
pub(super) fn birth_metrics(
    twin: &TwinId,
    declared: &mut Declared,
    templates: &Templates,
    metrics: &[Metric],
    time: Timestamp,
    out: &mut Vec<TwinUpdate>,
) {
    let mut aliases = Vec::new();
    for metric in metrics {
        let Some(name) = metric.name.as_deref() else {
            continue;
        };
        if metric.datatype == Some(datatype::TEMPLATE)
            && matches!(&metric.value, RawValue::Template(t) if t.is_definition)
        {
            continue; // a definition, not a value (kept by the node)
        }
        // Kept by the process: one string in cache for every device that declares it, and
        // passing it on with each value counts nothing.
        let name = PropertyName::kept(name);
        let datatype = metric
            .datatype
            .unwrap_or_else(|| value::guessed_datatype(&metric.value));
        if let Some(alias) = metric.alias {
            aliases.push((
                alias,
                MetricDef {
                    name: name.clone(),
                    datatype,
                },
            ));
        }
        declared.by_name.insert(name.clone(), datatype);
        for (key, value) in &metric.properties {
            match (key.as_str(), value) {
                ("engUnit", RawValue::String(unit)) => out.push(TwinUpdate::Unit {
                    twin: twin.clone(),
                    name: name.to_arc(),
                    unit: unit.as_str().into(),
                }),
                // Other properties (engLow, engHigh, Documentation…) are shown with the metric.
                (_, RawValue::None) => {}
                (_, value) => {
                    let shown = match value {
                        RawValue::String(s) => serde_json::Value::String(s.clone()),
                        other => value::interpret(value::guessed_datatype(other), other)
                            .ok()
                            .map_or(serde_json::Value::Null, |v| match v {
                                MetricValue::Number(n) => serde_json::json!(n),
                                MetricValue::Shown(s) => s,
                            }),
                    };
                    out.push(TwinUpdate::Fragment {
                        twin: twin.clone(),
                        name: format!("{name} [{key}]").into(),
                        value: Some(shown),
                    });
                }
            }
        }
        if let RawValue::Template(instance) = &metric.value {
            declare_members(declared, &name, instance, templates, 0);
        }
        let members = Members {
            templates,
            declared: None,
        };
        metric_updates(
            twin,
            &name,
            datatype,
            MetricIn::Full(metric),
            metric_time(metric.timestamp, time),
            &members,
            0,
            out,
        );
    }
    declared.by_alias = Aliases::declared(aliases);
}

/// Declares a birth's template instance members (`Instance/member`) with their datatypes, so
/// DATA that sends a member's value alone reads it as born.
fn declare_members(
    declared: &mut Declared,
    name: &str,
    instance: &proto::Template,
    templates: &Templates,
    depth: usize,
) {
    if depth >= proto::MAX_DEPTH {
        return;
    }
    let definition = instance
        .template_ref
        .as_deref()
        .and_then(|r| templates.get(r));
    let members = instance
        .metrics
        .iter()
        .chain(definition.into_iter().flat_map(|d| &d.metrics));
    for member in members {
        let Some(member_name) = member.name.as_deref() else {
            continue;
        };
        let nested = format!("{name}/{member_name}");
        if declared.by_name.contains_key(nested.as_str()) {
            continue; // the instance's own declaration comes first, its definition's after
        }
        let datatype = member
            .datatype
            .unwrap_or_else(|| value::guessed_datatype(&member.value));
        if let RawValue::Template(inner) = &member.value {
            declare_members(declared, &nested, inner, templates, depth + 1);
        }
        declared
            .by_name
            .insert(PropertyName::kept(&nested), datatype);
    }
}

/// The template definitions among a node birth's metrics.
pub(super) fn template_definitions(metrics: &[Metric]) -> Templates {
    metrics
        .iter()
        .filter_map(|m| match (&m.name, &m.value) {
            (Some(name), RawValue::Template(t)) if t.is_definition => {
                Some((name.clone(), t.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A DATA message's metrics, by alias or name; returns how many could not be identified.
/// All or nothing: a message with an unreadable metric adds nothing to `out`.
pub(super) fn data_metrics(
    twin: &TwinId,
    declared: &Declared,
    templates: &Templates,
    body: Body,
    time: Timestamp,
    out: &mut Vec<TwinUpdate>,
) -> Result<usize, ProtoError> {
    let mut unknown = 0;
    let start = out.len();
    let members = Members {
        templates,
        declared: Some(declared),
    };
    let mut visit = |name: Option<&str>, metric: MetricIn| {
        if !data_metric(twin, declared, &members, name, metric, time, out) {
            unknown += 1;
        }
    };
    match body {
        Body::Raw(bytes) => {
            if let Err(reason) = proto::for_each_metric(bytes, &mut visit) {
                // Nothing of a message that cannot be read is applied.
                out.truncate(start);
                return Err(reason);
            }
        }
        Body::Decoded(payload) => {
            for metric in &payload.metrics {
                visit(metric.name.as_deref(), MetricIn::Full(metric));
            }
        }
    }
    Ok(unknown)
}

/// A DATA message read in one pass with its header ([`proto::read_in_order`]), its times
/// from `received` where it gives none: the header, and how many metrics could not be
/// identified. `None`, with nothing added to `out`, for a payload laid out otherwise or
/// unreadable (then read as usual, by [`data_metrics`] after its header).
pub(super) fn data_metrics_in_order(
    twin: &TwinId,
    declared: &Declared,
    templates: &Templates,
    payload: &[u8],
    received: Timestamp,
    out: &mut Vec<TwinUpdate>,
) -> Option<(proto::Header, usize)> {
    let mut unknown = 0;
    let start = out.len();
    let members = Members {
        templates,
        declared: Some(declared),
    };
    let header = proto::read_in_order(payload, |timestamp, name, metric| {
        if !data_metric(
            twin,
            declared,
            &members,
            name,
            metric,
            metric_time(timestamp, received),
            out,
        ) {
            unknown += 1;
        }
    });
    if header.is_none() {
        out.truncate(start);
    }
    Some((header?, unknown))
}

/// One DATA metric as updates, by alias or name, at the payload's `time` unless it has its
/// own; false for one that cannot be identified.
#[inline(always)]
fn data_metric(
    twin: &TwinId,
    declared: &Declared,
    members: &Members,
    name: Option<&str>,
    metric: MetricIn,
    time: Timestamp,
    out: &mut Vec<TwinUpdate>,
) -> bool {
    // The declared name is borrowed, not cloned: each clone of a shared name is an atomic
    // count up and, when dropped, down, and the update pushed takes its own.
    let undeclared: PropertyName;
    let (name, datatype) = match (metric.alias().and_then(|a| declared.by_alias.get(a)), name) {
        (Some(def), _) => (&def.name, metric.datatype().unwrap_or(def.datatype)),
        // By name: the birth's shared string when it declared it (no allocation, and the
        // store compares pointers).
        (None, Some(name)) => match declared.by_name.get_key_value(name) {
            Some((declared_name, datatype)) => {
                (declared_name, metric.datatype().unwrap_or(*datatype))
            }
            None => {
                undeclared = PropertyName::from(name);
                (
                    &undeclared,
                    metric.datatype().unwrap_or_else(|| {
                        metric
                            .value()
                            .map_or_else(value::guessed_datatype, value::scalar_datatype)
                    }),
                )
            }
        },
        (None, None) => return false,
    };
    metric_updates(
        twin,
        name,
        datatype,
        metric,
        metric_time(metric.timestamp(), time),
        members,
        0,
        out,
    );
    true
}

/// What a template instance's members are read against.
struct Members<'a> {
    /// The node's definitions: a member's datatype when the instance leaves it out, and in a
    /// birth the default value of a member the instance leaves out.
    templates: &'a Templates,
    /// In DATA: the member datatypes the birth declared (as `Instance/member`); `None` while
    /// reading the birth itself.
    declared: Option<&'a Declared>,
}

/// One metric's value as updates: a number with history, or a value shown as it is.
#[allow(clippy::too_many_arguments)]
fn metric_updates(
    twin: &TwinId,
    name: &PropertyName,
    datatype: u32,
    metric: MetricIn,
    time: Timestamp,
    members: &Members,
    depth: usize,
    out: &mut Vec<TwinUpdate>,
) {
    // What nearly every DATA metric is: a live number, read in place. The same update as
    // below, without building an interpreted value on the way.
    if let MetricIn::Scalar(scalar) = metric
        && !(scalar.is_null || scalar.is_transient || scalar.is_historical)
        && let Some(value) = value::scalar_number(datatype, scalar.value)
    {
        out.push(TwinUpdate::Measurement {
            twin: twin.clone(),
            name: name.clone(),
            value,
            time,
        });
        return;
    }
    let value = metric.value();
    if datatype == datatype::TEMPLATE {
        if let Err(RawValue::Template(template)) = value
            && !template.is_definition
            && depth < proto::MAX_DEPTH
        {
            template_members(twin, name, template, time, members, depth, out);
        }
        return;
    }
    let numeric = matches!(datatype, datatype::INT8..=datatype::BOOLEAN);
    let (is_null, is_transient, is_historical) = metric.flags();
    if is_null {
        out.push(if numeric {
            TwinUpdate::Measurement {
                twin: twin.clone(),
                name: name.clone(),
                value: f64::NAN,
                time,
            }
        } else {
            TwinUpdate::Fragment {
                twin: twin.clone(),
                name: name.to_arc(),
                value: Some(serde_json::Value::Null),
            }
        });
        return;
    }
    let interpreted = match value {
        Ok(scalar) => value::interpret_scalar(datatype, scalar),
        Err(raw) => value::interpret(datatype, raw),
    };
    match interpreted {
        // A transient value is shown but not kept as a tag's history.
        Ok(MetricValue::Number(v)) if is_transient => {
            out.push(TwinUpdate::Fragment {
                twin: twin.clone(),
                name: name.to_arc(),
                value: serde_json::Number::from_f64(v).map(serde_json::Value::Number),
            });
        }
        // A historical value goes into history only, never the live value.
        Ok(MetricValue::Number(v)) if is_historical => out.push(TwinUpdate::Historical {
            twin: twin.clone(),
            name: name.to_arc(),
            value: v,
            time,
        }),
        Ok(MetricValue::Number(v)) => out.push(TwinUpdate::Measurement {
            twin: twin.clone(),
            name: name.clone(),
            value: v,
            time,
        }),
        Ok(MetricValue::Shown(_)) if is_historical => {}
        Ok(MetricValue::Shown(shown)) => out.push(TwinUpdate::Fragment {
            twin: twin.clone(),
            name: name.to_arc(),
            value: Some(shown),
        }),
        Err(reason) => tracing::debug!("Sparkplug metric {name} of {twin}: {reason}"),
    }
}

/// A template instance's members as properties under its name (`Motor1/Speed`). A member's
/// datatype is its own, else the one its birth declared, else its definition's; members its
/// definition does not have are ignored; a birth's instance that leaves a member out shows
/// the definition's default.
fn template_members(
    twin: &TwinId,
    name: &PropertyName,
    template: &proto::Template,
    time: Timestamp,
    members: &Members,
    depth: usize,
    out: &mut Vec<TwinUpdate>,
) {
    let definition = template
        .template_ref
        .as_deref()
        .and_then(|r| members.templates.get(r));
    let defined = |member: &str| {
        definition.and_then(|d| d.metrics.iter().find(|m| m.name.as_deref() == Some(member)))
    };
    let mut nested_name = format!("{name}/");
    for member in &template.metrics {
        let Some(member_name) = member.name.as_deref() else {
            continue;
        };
        let definition_member = defined(member_name);
        if definition.is_some() && definition_member.is_none() {
            tracing::debug!(
                "Sparkplug template {name} of {twin}: member {member_name} is not in its definition; ignored"
            );
            continue;
        }
        nested_name.truncate(name.len() + 1);
        nested_name.push_str(member_name);
        // In DATA, the birth's shared name and datatype (no allocation per message).
        let born = members
            .declared
            .and_then(|d| d.by_name.get_key_value(nested_name.as_str()));
        let nested: PropertyName =
            born.map_or_else(|| nested_name.as_str().into(), |(shared, _)| shared.clone());
        let member_datatype = member
            .datatype
            .or(born.map(|(_, datatype)| *datatype))
            .or_else(|| definition_member.and_then(|m| m.datatype))
            .unwrap_or_else(|| value::guessed_datatype(&member.value));
        metric_updates(
            twin,
            &nested,
            member_datatype,
            MetricIn::Full(member),
            metric_time(member.timestamp, time),
            members,
            depth + 1,
            out,
        );
    }
    if let Some(definition) = definition.filter(|_| members.declared.is_none()) {
        for default in &definition.metrics {
            let Some(member_name) = default.name.as_deref() else {
                continue;
            };
            if template
                .metrics
                .iter()
                .any(|m| m.name.as_deref() == Some(member_name))
            {
                continue;
            }
            let nested: PropertyName = format!("{name}/{member_name}").into();
            let member_datatype = default
                .datatype
                .unwrap_or_else(|| value::guessed_datatype(&default.value));
            metric_updates(
                twin,
                &nested,
                member_datatype,
                MetricIn::Full(default),
                time,
                members,
                depth + 1,
                out,
            );
        }
    }
}
