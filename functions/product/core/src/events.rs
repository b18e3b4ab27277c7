//! The product service's events (`mart.product.v1`), built from the product
//! as the API returns it. Other services replicate from these, so the
//! snapshot carries what they need: identity, SKU, name, price, category,
//! and whether it can be sold.

use mart_contracts::mart::common::v1::Money as PbMoney;
use mart_contracts::mart::product::v1::{ProductCreated, ProductDeleted, ProductSnapshot, ProductUpdated};
use mart_contracts::prost_types::Timestamp;

use crate::product::Product;

pub fn snapshot(p: &Product) -> ProductSnapshot {
    ProductSnapshot {
        product_id: p.id.clone(),
        sku: p.sku.clone(),
        name: p.name.clone(),
        price: Some(PbMoney { amount_minor: p.price.amount_minor, currency: p.price.currency.clone() }),
        category_id: p.category_id.clone().unwrap_or_default(),
        active: p.active,
    }
}

pub fn created(p: &Product, at: Timestamp) -> ProductCreated {
    ProductCreated { product: Some(snapshot(p)), occurred_at: Some(at) }
}

pub fn updated(p: &Product, at: Timestamp) -> ProductUpdated {
    ProductUpdated { product: Some(snapshot(p)), occurred_at: Some(at) }
}

pub fn deleted(id: &str, sku: &str, at: Timestamp) -> ProductDeleted {
    ProductDeleted { product_id: id.to_string(), sku: sku.to_string(), occurred_at: Some(at) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use mart_contracts::Event;

    fn product() -> Product {
        Product {
            id: "6f1c0000-0000-4000-8000-000000000001".into(),
            sku: "MUG-1".into(),
            name: "Mug".into(),
            description: "A mug".into(),
            price: Money { amount_minor: 1250, currency: "EUR".into() },
            category_id: None,
            image_url: None,
            active: true,
            created_at: "2025-01-31T12:00:00.000000Z".into(),
            updated_at: "2025-01-31T12:00:00.000000Z".into(),
        }
    }

    #[test]
    fn created_carries_the_snapshot_keyed_by_product() {
        let at = Timestamp { seconds: 1_700_000_000, nanos: 0 };
        let e = created(&product(), at);
        assert_eq!(e.key(), "6f1c0000-0000-4000-8000-000000000001");
        let snap = e.product.unwrap();
        assert_eq!(snap.price.unwrap().amount_minor, 1250);
        assert_eq!(snap.category_id, "");
        assert!(snap.active);
    }

    #[test]
    fn deleted_names_id_and_sku() {
        let e = deleted("p-1", "MUG-1", Timestamp::default());
        assert_eq!((e.key(), e.sku.as_str()), ("p-1".to_string(), "MUG-1"));
        assert_eq!(<ProductDeleted as Event>::TYPE, "mart.product.deleted.v1");
    }
}
