//! Host bindings for `mart:events/event-handler` (wit/events): the export a
//! Kafka-triggered component provides.

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/events",
        world: "mart:events/event-handler",
        exports: { default: async },
    });
}

pub use bindings::mart::events::types::{HandlerError, Header, KafkaRecord};
pub use bindings::{EventHandler, EventHandlerPre};
