//! TEMPORARY stub (lead's main branch) until the harness branch lands.
#![allow(missing_docs)]
pub struct Kafka {
    b: String,
}
impl Kafka {
    pub fn shared() -> Result<&'static Kafka, String> {
        static K: std::sync::OnceLock<Kafka> = std::sync::OnceLock::new();
        Ok(K.get_or_init(|| Kafka {
            b: std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap(),
        }))
    }
    pub fn bootstrap(&self) -> String {
        self.b.clone()
    }
}
pub fn unique_topic(p: &str) -> String {
    format!("{p}-{}-{}", std::process::id(), fastrand_like())
}
fn fastrand_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
