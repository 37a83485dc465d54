//! Fills a workspace for the benchmark, straight into the database (not over
//! HTTP): N groups, one group with M members, and K more users who are members of
//! nothing (for the member-add scenario). The schema is the one groupd migrated.
//!
//! cargo run --release --example bench_seed -- WORKSPACE GROUPS MEMBERS SPARE_USERS (--sqlite FILE | --postgres URL)
//! Prints the id of the big group.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        return Err("usage: bench_seed WORKSPACE GROUPS MEMBERS SPARE_USERS (--sqlite FILE | --postgres URL)".into());
    }
    let (ws, groups, members, spare) = (
        args[1].clone(),
        args[2].parse::<i64>()?,
        args[3].parse::<i64>()?,
        args[4].parse::<i64>()?,
    );
    let start = Instant::now();
    let big = match args[5].as_str() {
        "--sqlite" => seed_sqlite(&args[6], &ws, groups, members, spare)?,
        "--postgres" => tokio::runtime::Runtime::new()?
            .block_on(seed_postgres(&args[6], &ws, groups, members, spare))?,
        other => return Err(format!("unknown engine flag {other}").into()),
    };
    eprintln!(
        "seeded {groups} groups, {members} members, {spare} spare users in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    println!("{big}");
    Ok(())
}

fn seed_sqlite(
    path: &str,
    ws: &str,
    groups: i64,
    members: i64,
    spare: i64,
) -> Result<i64, Box<dyn std::error::Error>> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let ws_id: i64 = conn.query_row("SELECT id FROM workspaces WHERE name = ?1", [ws], |r| {
        r.get(0)
    })?;
    let tx = conn.transaction()?;
    {
        let mut g = tx.prepare(
            "INSERT INTO groups (workspace_id, name, name_key, description, category_id, policy, created_at, updated_at) \
             VALUES (?1, ?2, lower(?2), '', 1, '{\"permissions\":[],\"limits\":{},\"unsubscribe_link\":false,\"abuse_ratio\":4,\"lists\":[],\"send_methods\":[]}', 1, 1)",
        )?;
        for i in 0..groups {
            g.execute(rusqlite::params![ws_id, format!("Bench group {i}")])?;
        }
        let mut u = tx.prepare(
            "INSERT INTO users (workspace_id, full_name, username, username_key, email, email_key, password_hash, created_at, updated_at) \
             VALUES (?1, ?2, ?2, ?2, ?3, ?3, 'x', 1, 1)",
        )?;
        for i in 0..members + spare {
            u.execute(rusqlite::params![
                ws_id,
                format!("benchuser{i}"),
                format!("benchuser{i}@x.org")
            ])?;
        }
    }
    let big: i64 = tx.query_row(
        "SELECT MIN(id) FROM groups WHERE workspace_id = ?1 AND builtin IS NULL",
        [ws_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO memberships (group_id, user_id, role, joined_at) \
         SELECT ?1, id, 'member', 1 FROM users WHERE workspace_id = ?2 ORDER BY id LIMIT ?3",
        rusqlite::params![big, ws_id, members],
    )?;
    tx.execute(
        "UPDATE groups SET member_count = ?2 WHERE id = ?1",
        rusqlite::params![big, members],
    )?;
    tx.commit()?;
    conn.execute_batch("ANALYZE")?;
    Ok(big)
}

async fn seed_postgres(
    url: &str,
    ws: &str,
    groups: i64,
    members: i64,
    spare: i64,
) -> Result<i64, Box<dyn std::error::Error>> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let ws_id: i64 = c
        .query_one("SELECT id FROM workspaces WHERE name = $1", &[&ws])
        .await?
        .get(0);
    c.execute(
        "INSERT INTO groups (workspace_id, name, name_key, description, category_id, policy, created_at, updated_at) \
         SELECT $1, 'Bench group ' || i, 'bench group ' || i, '', 1, \
         '{\"permissions\":[],\"limits\":{},\"unsubscribe_link\":false,\"abuse_ratio\":4,\"lists\":[],\"send_methods\":[]}', 1, 1 \
         FROM generate_series(0, $2::BIGINT - 1) AS i",
        &[&ws_id, &groups],
    )
    .await?;
    c.execute(
        "INSERT INTO users (workspace_id, full_name, username, username_key, email, email_key, password_hash, created_at, updated_at) \
         SELECT $1, 'benchuser' || i, 'benchuser' || i, 'benchuser' || i, 'benchuser' || i || '@x.org', 'benchuser' || i || '@x.org', 'x', 1, 1 \
         FROM generate_series(0, $2::BIGINT - 1) AS i",
        &[&ws_id, &(members + spare)],
    )
    .await?;
    let big: i64 = c
        .query_one(
            "SELECT MIN(id) FROM groups WHERE workspace_id = $1 AND builtin IS NULL",
            &[&ws_id],
        )
        .await?
        .get(0);
    c.execute(
        "INSERT INTO memberships (group_id, user_id, role, joined_at) \
         SELECT $1, id, 'member', 1 FROM users WHERE workspace_id = $2 ORDER BY id LIMIT $3",
        &[&big, &ws_id, &members],
    )
    .await?;
    c.execute(
        "UPDATE groups SET member_count = $2 WHERE id = $1",
        &[&big, &members],
    )
    .await?;
    c.batch_execute("ANALYZE").await?;
    Ok(big)
}
