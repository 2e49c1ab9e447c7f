//! Which data schemas a live command speaks (`--schema`), and how the Sparkplug B host
//! application behaves (`--sparkplug-host-id`, `--sparkplug-passive`).

use clap::Args;
use twinscope_core::schema::combined::{SchemaChoice, SchemaKind};
use twinscope_core::schema::sparkplug::SparkplugConfig;

#[derive(Args, Debug, Clone, Default)]
pub struct SchemaArgs {
    /// The data schemas to read, comma-separated: te (thin-edge), sparkplug (Sparkplug B)
    /// [default: both].
    #[arg(long = "schema", value_name = "te|sparkplug", value_delimiter = ',', value_parser = SchemaKind::parse)]
    pub schemas: Vec<SchemaKind>,
    /// The Sparkplug host id, published in spBv1.0/STATE/<id> [default: unique per client].
    #[arg(long, value_name = "ID")]
    pub sparkplug_host_id: Option<String>,
    /// Publish nothing as a Sparkplug host (no STATE, no rebirth requests): wait for births.
    #[arg(long)]
    pub sparkplug_passive: bool,
    /// After a Sparkplug sequence gap, how long to wait for the missing message before asking
    /// the edge node for a rebirth.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = twinscope_core::time::parse_duration)]
    pub sparkplug_reorder_timeout: std::time::Duration,
}

impl SchemaArgs {
    pub fn choice(&self) -> SchemaChoice {
        let kinds = if self.schemas.is_empty() {
            SchemaKind::ALL.to_vec()
        } else {
            self.schemas.clone()
        };
        let mut sparkplug =
            SparkplugConfig::new(self.sparkplug_host_id.clone(), self.sparkplug_passive);
        sparkplug.reorder_timeout = self.sparkplug_reorder_timeout;
        SchemaChoice {
            kinds,
            sparkplug,
            json_sources: Vec::new(),
        }
    }
}
