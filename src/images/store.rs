//! Processed images kept in the database, named by content hash, so every instance serves
//! the same files and an image uploaded twice is stored once.

use diesel::prelude::*;

use super::ProcessedImage;
use crate::db::schema::stored_images;
use crate::db::{DbConnection, now};

/// Stores the image unless an identical one is already there.
pub fn save(conn: &mut DbConnection, image: &ProcessedImage) -> QueryResult<()> {
    if exists(conn, &image.hash)? {
        return Ok(());
    }
    // Losing the race to an identical insert is fine: that row stands.
    crate::db::insert_unless_duplicate(conn, |conn| {
        diesel::insert_into(stored_images::table)
            .values((
                stored_images::hash.eq(&image.hash),
                stored_images::png.eq(&image.png),
                stored_images::thumbnail.eq(&image.thumbnail),
                stored_images::width.eq(image.width as i32),
                stored_images::height.eq(image.height as i32),
                stored_images::bytes.eq(image.png.len() as i32),
                stored_images::created_at.eq(now()),
            ))
            .execute(conn)
    })?;
    Ok(())
}

pub fn exists(conn: &mut DbConnection, hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(stored_images::table.find(hash))).get_result(conn)
}

/// The PNG, or its thumbnail, by hash.
pub fn png(conn: &mut DbConnection, hash: &str, thumbnail: bool) -> QueryResult<Option<Vec<u8>>> {
    let query = stored_images::table.find(hash);
    if thumbnail {
        query
            .select(stored_images::thumbnail)
            .first(conn)
            .optional()
    } else {
        query.select(stored_images::png).first(conn).optional()
    }
}

/// Width, height and size in bytes of a stored image.
pub fn dimensions(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<(i32, i32, i32)>> {
    stored_images::table
        .find(hash)
        .select((
            stored_images::width,
            stored_images::height,
            stored_images::bytes,
        ))
        .first(conn)
        .optional()
}

/// A stored image's size, shown as "400×400 px, 12.3 KB".
#[derive(Queryable, Selectable, Clone, Copy, Debug)]
#[diesel(table_name = stored_images)]
pub struct Size {
    pub width: i32,
    pub height: i32,
    /// Of the PNG.
    pub bytes: i32,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kb = f64::from(self.bytes) / 1024.0;
        write!(f, "{}×{} px, {kb:.1} KB", self.width, self.height)
    }
}

pub fn size(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<Size>> {
    stored_images::table
        .find(hash)
        .select(Size::as_select())
        .first(conn)
        .optional()
}
