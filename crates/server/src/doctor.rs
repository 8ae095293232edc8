//! `symbiont doctor`: what the configuration should be for the data in the store. Prints the event
//! bus the reference architecture recommends for the number of businesses
//! (`symbiont_app::bus_choice`) beside the configured one, and the configured graph. Reads only.

use symbiont_app::bus_choice::BusAdvice;

/// The report, a few lines of text.
pub fn report(businesses: u64, bus_url: &str, graph_url: &str) -> String {
    let advice = BusAdvice::new(businesses, bus_url);
    let configured = match advice.configured {
        Some(tier) => format!("{tier} ({})", symbiont_bus::without_credentials(bus_url)),
        None => format!("unknown ({})", symbiont_bus::without_credentials(bus_url)),
    };
    let recommended = format!(
        "{} ({})",
        advice.recommended,
        advice.recommended.example_url()
    );
    let verdict = if advice.below() {
        "WARNING: the configured bus is below the recommendation"
    } else {
        "ok"
    };
    format!(
        "businesses in the store: {businesses}\n\
         recommended event bus:   {recommended}\n\
         configured event bus:    {configured}\n\
         verdict:                 {verdict}\n\
         advice:                  {}\n\
         network graph:           {}\n",
        advice.summary(),
        symbiont_graph::without_credentials(graph_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_platform_on_nats_is_told_to_move_to_kafka() {
        let text = report(5_000, "nats://admin:s3cret@nats:4222", "memory://");
        assert!(
            text.contains("recommended event bus:   Kafka (kafka://host:9092)"),
            "{text}"
        );
        assert!(text.contains("set bus.url to kafka://host:9092"), "{text}");
        assert!(
            text.contains("configured event bus:    NATS JetStream (nats://nats:4222)"),
            "{text}"
        );
        assert!(text.contains("WARNING"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn a_small_platform_on_redis_streams_is_fine() {
        let text = report(40, "redis://localhost:6379", "memory://");
        assert!(
            text.contains("recommended event bus:   Redis Streams (redis://host:6379)\n"),
            "{text}"
        );
        assert!(text.contains("verdict:                 ok"), "{text}");
    }

    #[test]
    fn a_large_platform_on_kafka_is_fine() {
        let text = report(5_000, "kafka://a:9092,b:9092?partitions=6", "memory://");
        assert!(
            text.contains("configured event bus:    Kafka (kafka://a:9092,b:9092?partitions=6)"),
            "{text}"
        );
        assert!(text.contains("verdict:                 ok"), "{text}");
    }
}
