//! The Online Mart's event contracts: one source of truth in `proto/mart/`.
//!
//! Every event is a protobuf message in `package mart.<service>.v1`, carried on
//! its aggregate's topic (so one aggregate's events stay in order) with
//! CloudEvents headers whose `ce_type` names the message, e.g.
//! `mart.product.created.v1`. [`Event`] ties each message to its type, topic
//! and key. Field numbers are never reused: `tests/compatibility.rs` compares
//! the compiled contracts with `baseline.json`.

pub use prost;
pub use prost_types;

#[allow(clippy::all)]
pub mod mart {
    pub mod common {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mart.common.v1.rs"));
        }
    }
    pub mod user {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mart.user.v1.rs"));
        }
    }
    pub mod product {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mart.product.v1.rs"));
        }
    }
    pub mod inventory {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mart.inventory.v1.rs"));
        }
    }
    pub mod order {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mart.order.v1.rs"));
        }
    }
    pub mod payment {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mart.payment.v1.rs"));
        }
    }
    pub mod notification {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/mart.notification.v1.rs"));
        }
    }
}

/// The compiled `FileDescriptorSet` of every contract.
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

/// Kafka topics, one per aggregate stream.
pub mod topics {
    pub const USER: &str = "mart.user.events";
    pub const PRODUCT: &str = "mart.product.events";
    pub const STOCK: &str = "mart.stock.events";
    pub const ORDER: &str = "mart.order.events";
    pub const PAYMENT: &str = "mart.payment.events";
    pub const NOTIFICATION: &str = "mart.notification.events";
    pub const ALL: &[&str] = &[USER, PRODUCT, STOCK, ORDER, PAYMENT, NOTIFICATION];
}

/// A message that travels as an event.
pub trait Event: prost::Message + Default {
    /// CloudEvents `ce_type`.
    const TYPE: &'static str;
    /// The topic of its aggregate.
    const TOPIC: &'static str;
    /// Record key: the aggregate id, so one aggregate's events share a partition.
    fn key(&self) -> String;
}

macro_rules! events {
    ($($ty:path => $ce:literal on $topic:expr, key |$e:ident| $key:expr;)*) => {
        $(impl Event for $ty {
            const TYPE: &'static str = $ce;
            const TOPIC: &'static str = $topic;
            fn key(&self) -> String {
                let $e = self;
                $key
            }
        })*
        /// Every event type, as (ce_type, topic).
        pub const EVENT_TYPES: &[(&str, &str)] = &[$(($ce, $topic)),*];
    };
}

use mart::{inventory::v1 as inv, notification::v1 as notif, order::v1 as ord, payment::v1 as pay, product::v1 as prod, user::v1 as usr};

fn product_id(p: &Option<prod::ProductSnapshot>) -> String {
    p.as_ref().map(|p| p.product_id.clone()).unwrap_or_default()
}

events! {
    usr::UserRegistered => "mart.user.registered.v1" on topics::USER, key |e| e.user_id.clone();
    usr::UserUpdated => "mart.user.updated.v1" on topics::USER, key |e| e.user_id.clone();
    prod::ProductCreated => "mart.product.created.v1" on topics::PRODUCT, key |e| product_id(&e.product);
    prod::ProductUpdated => "mart.product.updated.v1" on topics::PRODUCT, key |e| product_id(&e.product);
    prod::ProductDeleted => "mart.product.deleted.v1" on topics::PRODUCT, key |e| e.product_id.clone();
    inv::StockReserved => "mart.inventory.stock_reserved.v1" on topics::STOCK, key |e| e.order_id.clone();
    inv::StockRejected => "mart.inventory.stock_rejected.v1" on topics::STOCK, key |e| e.order_id.clone();
    inv::StockReleased => "mart.inventory.stock_released.v1" on topics::STOCK, key |e| e.order_id.clone();
    inv::StockLow => "mart.inventory.stock_low.v1" on topics::STOCK, key |e| e.product_id.clone();
    ord::OrderPlaced => "mart.order.placed.v1" on topics::ORDER, key |e| e.order_id.clone();
    ord::OrderConfirmed => "mart.order.confirmed.v1" on topics::ORDER, key |e| e.order_id.clone();
    ord::OrderCancelled => "mart.order.cancelled.v1" on topics::ORDER, key |e| e.order_id.clone();
    ord::OrderShipped => "mart.order.shipped.v1" on topics::ORDER, key |e| e.order_id.clone();
    ord::OrderDelivered => "mart.order.delivered.v1" on topics::ORDER, key |e| e.order_id.clone();
    pay::PaymentSucceeded => "mart.payment.succeeded.v1" on topics::PAYMENT, key |e| e.order_id.clone();
    pay::PaymentFailed => "mart.payment.failed.v1" on topics::PAYMENT, key |e| e.order_id.clone();
    pay::PaymentRefunded => "mart.payment.refunded.v1" on topics::PAYMENT, key |e| e.order_id.clone();
    notif::NotificationSent => "mart.notification.sent.v1" on topics::NOTIFICATION, key |e| e.notification_id.clone();
    notif::NotificationFailed => "mart.notification.failed.v1" on topics::NOTIFICATION, key |e| e.notification_id.clone();
}

/// A timestamp for `occurred_at` fields from seconds and nanoseconds since the Unix epoch.
pub fn timestamp(seconds: i64, nanos: i32) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos }
}
