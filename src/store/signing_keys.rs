//! Keys shared by every instance, created once and then only read.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use crate::{domain::session::now, entities::signing_keys};

/// The key called `name`. The first instance to ask creates it; instances that
/// race to do so all end up with the one that was stored first.
pub async fn get_or_create(
    db: &impl ConnectionTrait,
    name: &str,
    candidate: [u8; 32],
) -> Result<Vec<u8>, DbErr> {
    let row = signing_keys::ActiveModel {
        name: Set(name.to_owned()),
        secret: Set(candidate.to_vec()),
        created_at: Set(now()),
    };
    signing_keys::Entity::insert(row)
        .on_conflict_do_nothing_on([signing_keys::Column::Name])
        .exec_without_returning(db)
        .await?;
    let stored = signing_keys::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("signing key {name}")))?;
    Ok(stored.secret)
}
