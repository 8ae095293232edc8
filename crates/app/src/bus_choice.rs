//! The reference architecture's rule for the event bus, by the number of businesses on the
//! platform: under 100 Redis Streams, from 100 to 1,000 NATS JetStream, over 1,000 Kafka. Every
//! tier has an adapter (`symbiont_bus`). `symbiont doctor` prints the advice; `serve` logs a warning
//! at start when the configured bus is below it. A larger bus than advised is fine.

use std::fmt;

/// A tier of event bus, smallest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BusTier {
    /// `memory://`: one process only; no other instance can share it.
    InProcess,
    RedisStreams,
    NatsJetStream,
    Kafka,
}

impl BusTier {
    /// The tier a configured `bus.url` is, by its scheme (`None` for an unknown scheme).
    pub fn of_url(url: &str) -> Option<Self> {
        match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("memory") => Some(BusTier::InProcess),
            Some("redis" | "rediss") => Some(BusTier::RedisStreams),
            Some("nats") => Some(BusTier::NatsJetStream),
            Some("kafka") => Some(BusTier::Kafka),
            _ => None,
        }
    }

    /// The tier recommended for `businesses` businesses.
    pub fn recommended_for(businesses: u64) -> Self {
        match businesses {
            0..100 => BusTier::RedisStreams,
            100..=1_000 => BusTier::NatsJetStream,
            _ => BusTier::Kafka,
        }
    }

    /// The `bus.url` that selects the tier.
    pub fn example_url(self) -> &'static str {
        match self {
            BusTier::InProcess => "memory://",
            BusTier::RedisStreams => "redis://host:6379",
            BusTier::NatsJetStream => "nats://host:4222",
            BusTier::Kafka => "kafka://host:9092",
        }
    }
}

impl fmt::Display for BusTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BusTier::InProcess => "the in-process bus",
            BusTier::RedisStreams => "Redis Streams",
            BusTier::NatsJetStream => "NATS JetStream",
            BusTier::Kafka => "Kafka",
        })
    }
}

/// The advice for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusAdvice {
    pub businesses: u64,
    pub recommended: BusTier,
    /// `None` when the configured URL's scheme is unknown.
    pub configured: Option<BusTier>,
}

impl BusAdvice {
    pub fn new(businesses: u64, configured_url: &str) -> Self {
        Self {
            businesses,
            recommended: BusTier::recommended_for(businesses),
            configured: BusTier::of_url(configured_url),
        }
    }

    /// The configured bus is a smaller tier than the recommended one.
    pub fn below(&self) -> bool {
        self.configured.is_some_and(|c| c < self.recommended)
    }

    /// What to tell the operator, in a sentence or two.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} businesses: the reference architecture recommends {} (under 100 Redis Streams, 100 to 1,000 NATS JetStream, over 1,000 Kafka)",
            self.businesses, self.recommended
        );
        match self.configured {
            Some(configured) if self.below() => {
                text.push_str(&format!(
                    "; the configured bus, {configured}, is below it: set bus.url to {}",
                    self.recommended.example_url()
                ));
            }
            Some(configured) => {
                text.push_str(&format!("; the configured bus, {configured}, meets it"))
            }
            None => text.push_str("; the configured bus URL names no known bus"),
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiers_follow_the_reference_thresholds() {
        assert_eq!(BusTier::recommended_for(0), BusTier::RedisStreams);
        assert_eq!(BusTier::recommended_for(99), BusTier::RedisStreams);
        assert_eq!(BusTier::recommended_for(100), BusTier::NatsJetStream);
        assert_eq!(BusTier::recommended_for(1_000), BusTier::NatsJetStream);
        assert_eq!(BusTier::recommended_for(1_001), BusTier::Kafka);
    }

    #[test]
    fn a_smaller_bus_is_below_and_the_advice_names_the_url_to_set() {
        let demo = BusAdvice::new(180, "memory://");
        assert!(demo.below());
        assert!(
            demo.summary().contains("set bus.url to nats://"),
            "{}",
            demo.summary()
        );
        let small = BusAdvice::new(20, "nats://localhost:4222");
        assert!(!small.below());
        assert!(small.summary().contains("meets it"));
        let large = BusAdvice::new(10_000, "nats://localhost:4222");
        assert!(large.below());
        let text = large.summary();
        assert!(text.contains("set bus.url to kafka://"), "{text}");
        let redis = BusAdvice::new(10_000, "redis://localhost:6379");
        assert!(redis.summary().contains("set bus.url to kafka://"));
        let kafka = BusAdvice::new(10_000, "kafka://a:9092,b:9092");
        assert_eq!(kafka.configured, Some(BusTier::Kafka));
        assert!(!kafka.below());
        assert!(kafka.summary().contains("meets it"));
        assert_eq!(BusAdvice::new(5, "amqp://x").configured, None);
    }
}
