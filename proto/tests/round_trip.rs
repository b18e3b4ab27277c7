//! Every contract message survives encode → decode unchanged, and every event
//! type is declared once with its topic.

use mart_contracts::mart::{common::v1 as common, inventory::v1 as inv, notification::v1 as notif, order::v1 as ord,
    payment::v1 as pay, product::v1 as prod, user::v1 as usr};
use mart_contracts::prost::Message;
use mart_contracts::{timestamp, topics, Event, EVENT_TYPES};

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: M) {
    let bytes = m.encode_to_vec();
    assert_eq!(M::decode(bytes.as_slice()).unwrap(), m);
}

fn money(amount_minor: i64) -> Option<common::Money> {
    Some(common::Money { amount_minor, currency: "EUR".into() })
}

fn line() -> common::Line {
    common::Line { product_id: "p-1".into(), quantity: 2, unit_price: money(1999) }
}

#[test]
fn every_message_round_trips() {
    let at = Some(timestamp(1_700_000_000, 123_000_000));
    let snapshot = prod::ProductSnapshot {
        product_id: "p-1".into(),
        sku: "MUG-1".into(),
        name: "Mug".into(),
        price: money(1250),
        category_id: "c-1".into(),
        active: true,
    };
    round_trip(usr::UserRegistered { user_id: "u".into(), email: "a@b.c".into(), display_name: "A".into(), registered_at: at });
    round_trip(usr::UserUpdated { user_id: "u".into(), email: "a@b.c".into(), display_name: "B".into(), updated_at: at });
    round_trip(prod::ProductCreated { product: Some(snapshot.clone()), occurred_at: at });
    round_trip(prod::ProductUpdated { product: Some(snapshot), occurred_at: at });
    round_trip(prod::ProductDeleted { product_id: "p-1".into(), sku: "MUG-1".into(), occurred_at: at });
    round_trip(inv::StockReserved { order_id: "o".into(), reservation_id: "r".into(), lines: vec![line()], expires_at: at, occurred_at: at });
    round_trip(inv::StockRejected { order_id: "o".into(), reason: "short".into(), unavailable: vec![line()], occurred_at: at });
    round_trip(inv::StockReleased { order_id: "o".into(), reservation_id: "r".into(), reason: "expired".into(), occurred_at: at });
    round_trip(inv::StockLow { product_id: "p".into(), available: 2, threshold: 5, occurred_at: at });
    round_trip(ord::OrderPlaced { order_id: "o".into(), customer_id: "u".into(), lines: vec![line(), line()], total: money(3998), occurred_at: at });
    round_trip(ord::OrderConfirmed { order_id: "o".into(), payment_id: "pay".into(), occurred_at: at });
    round_trip(ord::OrderCancelled { order_id: "o".into(), customer_id: "u".into(), reason: "customer".into(), refund_required: true, occurred_at: at });
    round_trip(ord::OrderShipped { order_id: "o".into(), carrier: "DHL".into(), tracking_number: "T1".into(), occurred_at: at });
    round_trip(ord::OrderDelivered { order_id: "o".into(), occurred_at: at });
    round_trip(pay::PaymentSucceeded { payment_id: "pay".into(), order_id: "o".into(), amount: money(3998), provider: "simulator".into(), provider_reference: "ref".into(), occurred_at: at });
    round_trip(pay::PaymentFailed { payment_id: "pay".into(), order_id: "o".into(), reason: "card_declined".into(), occurred_at: at });
    round_trip(pay::PaymentRefunded { payment_id: "pay".into(), order_id: "o".into(), amount: money(3998), occurred_at: at });
    round_trip(notif::NotificationSent { notification_id: "n".into(), user_id: "u".into(), channel: notif::Channel::Email as i32, template: "t".into(), occurred_at: at });
    round_trip(notif::NotificationFailed { notification_id: "n".into(), user_id: "u".into(), channel: notif::Channel::Sms as i32, template: "t".into(), reason: "bounce".into(), occurred_at: at });
}

#[test]
fn event_types_are_unique_and_on_known_topics() {
    let mut seen = std::collections::HashSet::new();
    for (ce_type, topic) in EVENT_TYPES {
        assert!(seen.insert(*ce_type), "{ce_type} declared twice");
        assert!(topics::ALL.contains(topic), "{ce_type} on unknown topic {topic}");
        assert!(ce_type.starts_with("mart.") && ce_type.ends_with(".v1"), "{ce_type}");
    }
    assert_eq!(EVENT_TYPES.len(), 19);
}

#[test]
fn keys_are_the_aggregate_ids() {
    let e = ord::OrderPlaced { order_id: "o-9".into(), ..Default::default() };
    assert_eq!(e.key(), "o-9");
    assert_eq!(<ord::OrderPlaced as Event>::TOPIC, topics::ORDER);
    let p = prod::ProductCreated {
        product: Some(prod::ProductSnapshot { product_id: "p-7".into(), ..Default::default() }),
        occurred_at: None,
    };
    assert_eq!(p.key(), "p-7");
}

#[test]
fn a_garbage_payload_does_not_decode() {
    assert!(ord::OrderPlaced::decode(&b"\xff\xff\xff\xff"[..]).is_err());
}
