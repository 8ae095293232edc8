//! The Store contract: one suite every adapter must pass. Each check is a function over `&dyn Store`
//! so another adapter only adds a line that opens its store and calls `run_all`.

use chrono::Utc;
use symbiont_core::model::FlowIdentity;
use symbiont_core::{
    Business, BusinessDraft, Direction, Flow, FlowDraft, FlowStatus, GeoPoint, Quality, Quantity,
    Site, SiteDraft, Taxonomy, WeeklyProfile,
};
use symbiont_store::sqlite::SqliteStore;
use symbiont_store::{
    BusinessFilter, Entity, FlowFilter, Near, PageRequest, SiteFilter, Store, StoreError,
};
use uuid::Uuid;

fn business(name: &str) -> Business {
    let now = Utc::now();
    BusinessDraft {
        name: name.into(),
        industry: "C10.51".into(),
        description: String::new(),
        contact: Default::default(),
        website: None,
    }
    .validate()
    .expect("valid")
    .into_business(Uuid::now_v7(), 1, now, now)
}

fn site(business: &Business, lat: f64, lon: f64) -> Site {
    let now = Utc::now();
    SiteDraft {
        name: "Works".into(),
        address: String::new(),
        location: GeoPoint { lat, lon },
    }
    .into_site(Uuid::now_v7(), business.id, 1, now, now)
}

fn flow(site: &Site, direction: Direction) -> Flow {
    let now = Utc::now();
    let taxonomy = Taxonomy::builtin().expect("taxonomy");
    FlowDraft {
        site_id: site.id,
        direction,
        category: "heat.low_temp".into(),
        ewc_code: None,
        description: String::new(),
        quality: Quality {
            temperature_c: Some(70.0),
            ..Quality::default()
        },
        quantity: Quantity {
            value: 250.0,
            unit: "kW".into(),
        },
        profile: None,
        monthly_factors: None,
        price_eur_per_unit: None,
        max_distance_km: None,
        valid_from: None,
        valid_until: None,
        status: FlowStatus::Active,
        anonymous: false,
        max_proposals: None,
        pays_for_co2: false,
    }
    .validate(
        &taxonomy,
        FlowIdentity {
            id: Uuid::now_v7(),
            business_id: site.business_id,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .expect("valid flow")
}

const ALL: PageRequest = PageRequest {
    after: None,
    limit: 1000,
};

async fn crud_and_versions(store: &dyn Store) {
    let mut b = business("Dairy");
    store.insert_business(&b).await.expect("insert");
    assert!(matches!(
        store.insert_business(&b).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        store.get_business(b.id).await.expect("get"),
        Some(b.clone())
    );
    b.name = "Dairy Two".into();
    b.version = 2;
    store
        .update_business(&b)
        .await
        .expect("update from version 1");
    // A second writer that also read version 1 must not overwrite version 2.
    match store.update_business(&b).await {
        Err(StoreError::VersionConflict {
            current: 2,
            expected: 1,
            ..
        }) => {}
        other => panic!("expected a version conflict, got {other:?}"),
    }
    let mut ghost = business("Ghost");
    ghost.version = 2;
    assert!(matches!(
        store.update_business(&ghost).await,
        Err(StoreError::NotFound {
            entity: Entity::Business,
            ..
        })
    ));
    assert!(
        store
            .get_business(Uuid::now_v7())
            .await
            .expect("get")
            .is_none()
    );
    // Many at once: those that exist, in id order, each once.
    let other = business("Brewery");
    store.insert_business(&other).await.expect("insert");
    let found = store
        .get_businesses(&[other.id, Uuid::now_v7(), b.id, other.id])
        .await
        .expect("get many");
    assert_eq!(found, vec![b.clone(), other.clone()]);
    assert!(store.get_businesses(&[]).await.expect("none").is_empty());
}

async fn children_need_parents_and_cascade(store: &dyn Store) {
    let b = business("Brewery");
    let orphan_site = site(&b, 51.0, 7.0);
    assert!(matches!(
        store.insert_site(&orphan_site).await,
        Err(StoreError::NotFound {
            entity: Entity::Business,
            ..
        })
    ));
    store.insert_business(&b).await.expect("insert");
    let s = site(&b, 51.0, 7.0);
    store.insert_site(&s).await.expect("insert site");
    let other_business = business("Other");
    let wrong_owner = Flow {
        business_id: other_business.id,
        ..flow(&s, Direction::Offer)
    };
    assert!(matches!(
        store.insert_flow(&wrong_owner).await,
        Err(StoreError::NotFound {
            entity: Entity::Site,
            ..
        })
    ));
    let f1 = flow(&s, Direction::Offer);
    let f2 = flow(&s, Direction::Need);
    store.insert_flow(&f1).await.expect("insert flow");
    store.insert_flow(&f2).await.expect("insert flow");
    let removed = store.delete_business(b.id).await.expect("delete");
    assert_eq!(removed.site_ids, vec![s.id]);
    assert_eq!(removed.flow_ids, vec![f1.id, f2.id]);
    assert!(store.get_site(s.id).await.expect("get").is_none());
    assert!(store.get_flow(f1.id).await.expect("get").is_none());
    let near = SiteFilter {
        business_id: None,
        near: Some(Near {
            center: GeoPoint {
                lat: 51.0,
                lon: 7.0,
            },
            radius_km: 1.0,
        }),
    };
    assert!(
        store
            .list_sites(&near, ALL)
            .await
            .expect("list")
            .items
            .iter()
            .all(|x| x.id != s.id)
    );
}

async fn pages_and_filters(store: &dyn Store) {
    let b = business("Paged");
    store.insert_business(&b).await.expect("insert");
    // Sites 0..10 along a meridian, about 1.1 km apart.
    let sites: Vec<Site> = (0..10)
        .map(|i| site(&b, 10.0 + f64::from(i) * 0.01, 20.0))
        .collect();
    for s in &sites {
        store.insert_site(s).await.expect("insert site");
    }
    let filter = SiteFilter {
        business_id: Some(b.id),
        near: None,
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_sites(&filter, PageRequest { after, limit: 3 })
            .await
            .expect("page");
        seen.extend(page.items.iter().map(|s| s.id));
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, sites.iter().map(|s| s.id).collect::<Vec<_>>());
    // Within 2.5 km of the first site: itself and the next two.
    let near = Near {
        center: GeoPoint {
            lat: 10.0,
            lon: 20.0,
        },
        radius_km: 2.5,
    };
    let close = store
        .list_sites(
            &SiteFilter {
                business_id: None,
                near: Some(near),
            },
            PageRequest {
                after: None,
                limit: 2,
            },
        )
        .await
        .expect("near");
    assert_eq!(close.items.len(), 2);
    let rest = store
        .list_sites(
            &SiteFilter {
                business_id: None,
                near: Some(near),
            },
            PageRequest {
                after: close.next_cursor,
                limit: 2,
            },
        )
        .await
        .expect("near");
    assert_eq!(
        rest.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![sites[2].id]
    );
    assert!(rest.next_cursor.is_none());

    let offer = flow(&sites[0], Direction::Offer);
    let need = flow(&sites[9], Direction::Need);
    store.insert_flow(&offer).await.expect("insert");
    store.insert_flow(&need).await.expect("insert");
    let only = |filter: FlowFilter| async move {
        store
            .list_flows(&filter, ALL)
            .await
            .expect("list")
            .items
            .iter()
            .map(|f| f.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        only(FlowFilter {
            direction: Some(Direction::Need),
            business_id: Some(b.id),
            ..Default::default()
        })
        .await,
        vec![need.id]
    );
    assert_eq!(
        only(FlowFilter {
            category: Some("heat".into()),
            business_id: Some(b.id),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        only(FlowFilter {
            near: Some(near),
            business_id: Some(b.id),
            ..Default::default()
        })
        .await,
        vec![offer.id]
    );
    let industry = BusinessFilter {
        industry: Some("C10".into()),
    };
    assert!(
        store
            .list_businesses(&industry, ALL)
            .await
            .expect("list")
            .items
            .iter()
            .any(|x| x.id == b.id)
    );
    let located = store.all_located_flows().await.expect("all");
    assert!(
        located
            .iter()
            .any(|l| l.flow.id == need.id && l.location == sites[9].location)
    );
}

async fn a_failing_batch_writes_nothing(store: &dyn Store) {
    let before = store.counts().await.expect("counts");
    let b = business("Batch");
    let s = site(&b, 1.0, 1.0);
    let mut bad = flow(&s, Direction::Offer);
    bad.site_id = Uuid::now_v7();
    let result = store
        .insert_batch(std::slice::from_ref(&b), std::slice::from_ref(&s), &[bad])
        .await;
    assert!(result.is_err());
    assert_eq!(store.counts().await.expect("counts"), before);
    assert!(store.get_business(b.id).await.expect("get").is_none());
}

async fn decisions_keep_versions(store: &dyn Store) {
    use symbiont_core::{MatchDecision, MatchStatus};
    let mut decision = MatchDecision {
        match_id: Uuid::now_v7(),
        offer_flow_id: Uuid::now_v7(),
        need_flow_id: Uuid::now_v7(),
        offer_business_id: Uuid::now_v7(),
        need_business_id: Uuid::now_v7(),
        status: MatchStatus::Contacted,
        status_before_expiry: None,
        expired_reason: None,
        last_match: None,
        note: Some("called them".into()),
        contacted_by: None,
        version: 1,
        updated_at: Utc::now(),
    };
    store
        .save_decisions(std::slice::from_ref(&decision))
        .await
        .expect("insert");
    let conflicts = store
        .save_decisions(std::slice::from_ref(&decision))
        .await
        .expect("saved what it could");
    assert!(matches!(
        conflicts.as_slice(),
        [StoreError::VersionConflict { .. }]
    ));
    // A batch with one lost race saves the rest: each decision is saved on its own.
    let mut other = decision.clone();
    other.match_id = Uuid::now_v7();
    let conflicts = store
        .save_decisions(&[decision.clone(), other.clone()])
        .await
        .expect("saved what it could");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let stored = store.all_decisions().await.expect("all");
    assert!(stored.iter().any(|d| d.match_id == other.match_id));
    decision.status = MatchStatus::Negotiating;
    decision.version = 2;
    store
        .save_decisions(std::slice::from_ref(&decision))
        .await
        .expect("update");
    let all = store.all_decisions().await.expect("all");
    assert_eq!(
        all.iter().find(|d| d.match_id == decision.match_id),
        Some(&decision)
    );
}

async fn drain_outbox(store: &dyn Store) -> Vec<String> {
    let mut kinds = Vec::new();
    loop {
        let batch = store.outbox_claim(100, LEASE).await.expect("claim");
        if batch.is_empty() {
            return kinds;
        }
        let ids: Vec<Uuid> = batch.iter().map(|e| e.id).collect();
        kinds.extend(batch.into_iter().map(|e| e.kind));
        store.outbox_remove(&ids).await.expect("remove");
    }
}

/// The W3C trace context every event written by these tests carries.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Each write that matters to matching leaves its event in the outbox, in commit order, with the
/// trace context of the write.
async fn writes_leave_their_events_in_the_outbox(store: &dyn Store) {
    symbiont_core::events::set_trace_context_source(|| Some(TRACEPARENT.to_string()));
    drain_outbox(store).await;
    let b = business("Outbox");
    store.insert_business(&b).await.expect("insert");
    let mut s = site(&b, 40.0, 3.0);
    store.insert_site(&s).await.expect("insert site");
    let f = flow(&s, Direction::Offer);
    store.insert_flow(&f).await.expect("insert flow");
    let first = store.outbox_claim(10, LEASE).await.expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].traceparent.as_deref(), Some(TRACEPARENT));
    match first[0].event().expect("readable") {
        symbiont_core::events::DomainEvent::FlowUpserted { flow, location } => {
            assert_eq!(flow.id, f.id);
            assert_eq!(location, s.location);
        }
        other => panic!("expected flow.upserted, got {other:?}"),
    }
    // Claimed, it is nobody else's until released.
    assert!(
        store
            .outbox_claim(10, LEASE)
            .await
            .expect("claim")
            .is_empty()
    );
    store.outbox_release(&[first[0].id]).await.expect("release");
    let mut renamed = s.clone();
    renamed.name = "Renamed".into();
    renamed.version = 2;
    store.update_site(&renamed).await.expect("rename");
    s = renamed;
    s.location = GeoPoint {
        lat: 40.1,
        lon: 3.0,
    };
    s.version = 3;
    store.update_site(&s).await.expect("move");
    let mut paused = f.clone();
    paused.status = FlowStatus::Paused;
    paused.version = 2;
    store.update_flow(&paused).await.expect("pause");
    store.delete_business(b.id).await.expect("delete");
    assert_eq!(
        drain_outbox(store).await,
        [
            "flow.upserted",
            "site.moved",
            "flow.upserted",
            "flows.removed"
        ],
        "a rename emits nothing"
    );
    assert!(
        store
            .outbox_claim(10, LEASE)
            .await
            .expect("claim")
            .is_empty()
    );
    outbox_claims_are_disjoint_and_end(store).await;
}

/// How long the contract's relays hold what they claim.
const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Two relays over one store (two instances) never hold the same entry, so each event is
/// published once; a claim that ended (a crashed relay's) is taken again, in commit order.
async fn outbox_claims_are_disjoint_and_end(store: &dyn Store) {
    drain_outbox(store).await;
    let b = business("Claims");
    store.insert_business(&b).await.expect("insert");
    let s = site(&b, 41.0, 3.0);
    store.insert_site(&s).await.expect("insert site");
    for _ in 0..4 {
        store
            .insert_flow(&flow(&s, Direction::Offer))
            .await
            .expect("insert flow");
    }
    let one = store.outbox_claim(2, LEASE).await.expect("claim");
    let two = store.outbox_claim(10, LEASE).await.expect("claim");
    assert_eq!((one.len(), two.len()), (2, 2));
    assert!(one.iter().all(|e| two.iter().all(|o| o.id != e.id)));
    // The first relay "crashes": its claim ends (a zero lease stands for the time passing).
    store.outbox_release(&[]).await.expect("release nothing");
    let expired = store.outbox_claim(10, std::time::Duration::ZERO).await;
    assert!(
        expired.expect("claim").is_empty(),
        "live claims are not taken"
    );
    let ids: Vec<Uuid> = one.iter().map(|e| e.id).collect();
    store.outbox_release(&ids).await.expect("release");
    let again = store.outbox_claim(10, LEASE).await.expect("claim");
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids,
        "commit order"
    );
    let all: Vec<Uuid> = two.iter().chain(&again).map(|e| e.id).collect();
    store.outbox_remove(&all).await.expect("remove");
    store.delete_business(b.id).await.expect("delete");
    drain_outbox(store).await;
}

async fn accounts_tokens_keys_and_audit(store: &dyn Store) {
    use symbiont_store::accounts::{
        ApiKey, AuditEntry, AuditFilter, KeyScope, Membership, RefreshToken, Role, Rotation, User,
    };
    let accounts = store.accounts();
    let email = format!("{}@contract.test", Uuid::now_v7().simple());
    let user = User {
        id: Uuid::now_v7(),
        email: email.clone(),
        password_hash: "$argon2id$not-a-real-hash".into(),
        is_admin: false,
        created_at: Utc::now(),
        token_epoch: 0,
        disabled_at: None,
    };
    accounts.insert_user(&user).await.expect("insert user");
    let twin = User {
        id: Uuid::now_v7(),
        ..user.clone()
    };
    assert!(matches!(
        accounts.insert_user(&twin).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let found = accounts.user_by_email(&email).await.expect("by email");
    assert_eq!(found.as_ref().map(|u| u.id), Some(user.id));
    assert_eq!(
        found.map(|u| u.password_hash),
        Some(user.password_hash.clone())
    );

    // A business created with its owner, in one transaction; memberships cascade with it.
    let b = business("Owned");
    accounts
        .insert_business_owned_by(&b, user.id)
        .await
        .expect("owned business");
    let mine = accounts.memberships_of_user(user.id).await.expect("mine");
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].business_id, mine[0].role), (b.id, Role::Owner));
    let orphan = business("Orphan");
    assert!(
        accounts
            .insert_business_owned_by(&orphan, Uuid::now_v7())
            .await
            .is_err()
    );
    assert!(store.get_business(orphan.id).await.expect("get").is_none());
    accounts
        .put_membership(&Membership {
            business_id: b.id,
            user_id: user.id,
            role: Role::Member,
            created_at: Utc::now(),
        })
        .await
        .expect("role change");
    let members = accounts.members_of_business(b.id).await.expect("members");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role, Role::Member);
    store.delete_business(b.id).await.expect("delete");
    assert!(
        accounts
            .memberships_of_user(user.id)
            .await
            .expect("none")
            .is_empty()
    );

    // Refresh tokens rotate once; a replayed token revokes its family.
    let now = Utc::now();
    let token = |hash: &str| RefreshToken {
        id: Uuid::now_v7(),
        family_id: Uuid::now_v7(),
        user_id: user.id,
        token_hash: hash.into(),
        expires_at: now + chrono::Duration::hours(1),
        created_at: now,
        epoch: 0,
        session_expires_at: now + chrono::Duration::days(1),
    };
    let first = format!("first-{}", user.id);
    let second = format!("second-{}", user.id);
    let third = format!("third-{}", user.id);
    accounts
        .insert_refresh_token(&token(&first))
        .await
        .expect("insert");
    assert_eq!(
        accounts
            .rotate_refresh_token(&first, &token(&second), now)
            .await
            .expect("rotate"),
        Rotation::Rotated {
            user_id: user.id,
            epoch: 0
        }
    );
    assert_eq!(
        accounts
            .rotate_refresh_token(&first, &token(&third), now)
            .await
            .expect("replay"),
        Rotation::Reused
    );
    assert_eq!(
        accounts
            .rotate_refresh_token(&second, &token(&third), now)
            .await
            .expect("family revoked"),
        Rotation::Expired
    );
    assert_eq!(
        accounts
            .rotate_refresh_token("unknown", &token(&third), now)
            .await
            .expect("unknown"),
        Rotation::Unknown
    );
    let stale = format!("stale-{}", user.id);
    let mut expired = token(&stale);
    expired.expires_at = now - chrono::Duration::seconds(1);
    accounts
        .insert_refresh_token(&expired)
        .await
        .expect("insert");
    assert_eq!(
        accounts
            .rotate_refresh_token(&stale, &token(&third), now)
            .await
            .expect("expired"),
        Rotation::Expired
    );
    // Retention deletes the expired token only; the live ones still rotate.
    assert_eq!(
        accounts
            .purge_refresh_tokens_expired_before(now)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(
        accounts
            .rotate_refresh_token(&stale, &token(&third), now)
            .await
            .expect("purged"),
        Rotation::Unknown
    );
    let fourth = format!("fourth-{}", user.id);
    accounts
        .insert_refresh_token(&token(&fourth))
        .await
        .expect("insert");
    assert_eq!(
        accounts
            .purge_refresh_tokens_expired_before(now)
            .await
            .expect("purge"),
        0
    );

    // API keys: found by hash, listed, touched, revoked.
    let key = ApiKey {
        id: Uuid::now_v7(),
        user_id: user.id,
        name: "ci".into(),
        prefix: "sym_abc".into(),
        scope: KeyScope::Read,
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let hash = format!("hash-{}", key.id);
    accounts.insert_api_key(&key, &hash).await.expect("key");
    // Times are kept to the microsecond.
    assert_eq!(
        accounts
            .api_key_by_hash(&hash)
            .await
            .expect("by hash")
            .map(|k| (k.id, k.user_id, k.name, k.scope, k.revoked_at)),
        Some((key.id, user.id, key.name.clone(), KeyScope::Read, None))
    );
    accounts
        .touch_api_key(key.id, Utc::now())
        .await
        .expect("touch");
    assert!(
        accounts.api_keys_of_user(user.id).await.expect("list")[0]
            .last_used_at
            .is_some()
    );
    assert!(
        !accounts
            .revoke_api_key(Uuid::now_v7(), key.id, Utc::now())
            .await
            .expect("not theirs")
    );
    assert!(
        accounts
            .revoke_api_key(user.id, key.id, Utc::now())
            .await
            .expect("revoke")
    );
    assert!(
        accounts
            .api_key_by_hash(&hash)
            .await
            .expect("by hash")
            .and_then(|k| k.revoked_at)
            .is_some()
    );

    // The audit log pages newest first and filters by user and action.
    let entry = |action: &str| AuditEntry {
        seq: 0,
        at: Utc::now(),
        user_id: Some(user.id),
        email: Some(email.clone()),
        api_key_id: None,
        ip: "127.0.0.1".into(),
        method: "POST".into(),
        path: "/api/v1/flows".into(),
        action: action.into(),
        status: 201,
        request_id: None,
    };
    accounts
        .append_audit(&[
            entry("flow.create"),
            entry("auth.login"),
            entry("flow.create"),
        ])
        .await
        .expect("append");
    let mine = accounts
        .list_audit(&AuditFilter {
            user_id: Some(user.id),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("audit");
    assert_eq!(mine.len(), 3);
    assert!(mine[0].seq > mine[1].seq && mine[1].seq > mine[2].seq);
    let logins = accounts
        .list_audit(&AuditFilter {
            user_id: Some(user.id),
            action: Some("auth.login".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("logins");
    assert_eq!(logins.len(), 1);
    let older = accounts
        .list_audit(&AuditFilter {
            user_id: Some(user.id),
            before: Some(mine[0].seq),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .expect("older");
    assert_eq!(older.len(), 2);

    // The signing secret is set once: later candidates do not replace it.
    let secret = accounts
        .signing_secret("first-candidate-secret")
        .await
        .expect("secret");
    assert_eq!(
        accounts
            .signing_secret("second-candidate")
            .await
            .expect("same"),
        secret
    );
}

async fn anonymous_flows_are_left_out_for_others(store: &dyn Store) {
    let b = business("Anonymous owner");
    store.insert_business(&b).await.expect("business");
    let s = site(&b, 2.0, 2.0);
    store.insert_site(&s).await.expect("site");
    let open = flow(&s, Direction::Offer);
    let mut hidden = flow(&s, Direction::Need);
    hidden.anonymous = true;
    store.insert_flow(&open).await.expect("open");
    store.insert_flow(&hidden).await.expect("hidden");
    let ids = |hide: Option<Vec<Uuid>>| {
        let filter = FlowFilter {
            business_id: Some(b.id),
            hide_anonymous_except: hide,
            ..FlowFilter::default()
        };
        async move {
            store
                .list_flows(
                    &filter,
                    PageRequest {
                        after: None,
                        limit: 10,
                    },
                )
                .await
                .expect("list")
                .items
                .into_iter()
                .map(|f| f.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(None).await.len(), 2);
    assert_eq!(ids(Some(vec![])).await, vec![open.id]);
    assert_eq!(ids(Some(vec![Uuid::now_v7()])).await, vec![open.id]);
    assert_eq!(ids(Some(vec![b.id])).await.len(), 2);
}

/// Token epochs, disabling and the absolute end of a login.
async fn account_lifecycle(store: &dyn Store) {
    use symbiont_store::accounts::{RefreshToken, Rotation, User};
    let accounts = store.accounts();
    let user = User {
        id: Uuid::now_v7(),
        email: format!("{}@lifecycle.test", Uuid::now_v7().simple()),
        password_hash: "$argon2id$old".into(),
        is_admin: false,
        created_at: Utc::now(),
        token_epoch: 0,
        disabled_at: None,
    };
    accounts.insert_user(&user).await.expect("insert user");
    let now = Utc::now();
    let token = |hash: &str, epoch: i64| RefreshToken {
        id: Uuid::now_v7(),
        family_id: Uuid::now_v7(),
        user_id: user.id,
        token_hash: format!("{hash}-{}", user.id),
        expires_at: now + chrono::Duration::hours(1),
        created_at: now,
        epoch,
        session_expires_at: now + chrono::Duration::days(1),
    };
    let rotate = |presented: &RefreshToken, next: &RefreshToken, at| {
        let presented = presented.token_hash.clone();
        let next = next.clone();
        async move {
            accounts
                .rotate_refresh_token(&presented, &next, at)
                .await
                .expect("rotate")
        }
    };

    // A family that rotates past its absolute end dies there, however fresh its last token.
    let login = token("login", 0);
    accounts.insert_refresh_token(&login).await.expect("insert");
    let late = now + chrono::Duration::days(1) + chrono::Duration::seconds(1);
    let mut fresh = token("fresh", 0);
    fresh.expires_at = late + chrono::Duration::hours(1);
    assert_eq!(rotate(&login, &fresh, late).await, Rotation::Expired);
    let mut within = token("within", 0);
    within.expires_at = now + chrono::Duration::days(30);
    let young = token("young", 0);
    accounts.insert_refresh_token(&young).await.expect("insert");
    assert_eq!(
        rotate(&young, &within, now).await,
        Rotation::Rotated {
            user_id: user.id,
            epoch: 0
        }
    );
    // The rotated token took the family's end, not its own 30 days.
    assert_eq!(
        rotate(&within, &token("after", 0), late).await,
        Rotation::Expired
    );

    // Bumping the epoch kills every family of the older epoch.
    let before = token("before-bump", 0);
    accounts
        .insert_refresh_token(&before)
        .await
        .expect("insert");
    assert_eq!(
        accounts.bump_token_epoch(user.id).await.expect("bump"),
        Some(1)
    );
    assert_eq!(
        accounts
            .bump_token_epoch(Uuid::now_v7())
            .await
            .expect("bump"),
        None
    );
    assert_eq!(
        rotate(&before, &token("x", 0), now).await,
        Rotation::Expired
    );

    // A password change bumps the epoch too, with the new hash.
    let at_one = token("epoch-one", 1);
    accounts
        .insert_refresh_token(&at_one)
        .await
        .expect("insert");
    assert_eq!(
        accounts
            .set_password_hash(user.id, "$argon2id$new")
            .await
            .expect("password"),
        Some(2)
    );
    let stored = accounts
        .get_user(user.id)
        .await
        .expect("get")
        .expect("user");
    assert_eq!(
        (stored.password_hash.as_str(), stored.token_epoch),
        ("$argon2id$new", 2)
    );
    assert_eq!(
        rotate(&at_one, &token("y", 1), now).await,
        Rotation::Expired
    );

    // Disabling bumps the epoch; enabling does not bring old sessions back.
    let at_two = token("epoch-two", 2);
    accounts
        .insert_refresh_token(&at_two)
        .await
        .expect("insert");
    let disabled = accounts
        .set_user_disabled(user.id, Some(now))
        .await
        .expect("disable")
        .expect("user");
    assert!(disabled.disabled_at.is_some());
    assert_eq!(disabled.token_epoch, 3);
    let enabled = accounts
        .set_user_disabled(user.id, None)
        .await
        .expect("enable")
        .expect("user");
    assert_eq!((enabled.disabled_at, enabled.token_epoch), (None, 3));
    assert_eq!(
        rotate(&at_two, &token("z", 2), now).await,
        Rotation::Expired
    );
    // While disabled, even a token of the current epoch does not rotate.
    let current = token("current", 3);
    accounts
        .insert_refresh_token(&current)
        .await
        .expect("insert");
    accounts
        .set_user_disabled(user.id, Some(now))
        .await
        .expect("disable");
    let current_again = token("current-again", 4);
    accounts
        .insert_refresh_token(&current_again)
        .await
        .expect("insert");
    accounts
        .set_user_disabled(user.id, None)
        .await
        .expect("enable");
    assert_eq!(
        rotate(&current_again, &token("w", 4), now).await,
        Rotation::Rotated {
            user_id: user.id,
            epoch: 4
        }
    );
    accounts
        .set_user_disabled(user.id, Some(now))
        .await
        .expect("disable");
    let at_five = token("epoch-five", 5);
    accounts
        .insert_refresh_token(&at_five)
        .await
        .expect("insert");
    assert_eq!(
        rotate(&at_five, &token("v", 5), now).await,
        Rotation::Expired
    );
    assert_eq!(
        accounts
            .set_user_disabled(Uuid::now_v7(), None)
            .await
            .expect("none"),
        None
    );
}

async fn invitations(store: &dyn Store) {
    use symbiont_store::accounts::{Invitation, Membership, Role, User};
    let accounts = store.accounts();
    let owner = User {
        id: Uuid::now_v7(),
        email: format!("{}@owner.test", Uuid::now_v7().simple()),
        password_hash: "$argon2id$not-a-real-hash".into(),
        is_admin: false,
        created_at: Utc::now(),
        token_epoch: 0,
        disabled_at: None,
    };
    accounts.insert_user(&owner).await.expect("insert owner");
    let b = business("Inviting");
    accounts
        .insert_business_owned_by(&b, owner.id)
        .await
        .expect("owned business");
    // Stored times keep microseconds.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let invitee = format!("{}@invitee.test", Uuid::now_v7().simple());
    let invitation = |email: &str, role: Role, expires_in: chrono::Duration| Invitation {
        id: Uuid::now_v7(),
        business_id: b.id,
        email: email.to_string(),
        role,
        invited_by: Some(owner.id),
        created_at: now,
        expires_at: now + expires_in,
    };
    let first = invitation(&invitee, Role::Member, chrono::Duration::days(14));
    assert_eq!(
        accounts.put_invitation(&first).await.expect("invite"),
        first
    );

    // Inviting the same address again refreshes the invitation: same id, new role and expiry.
    let again = invitation(&invitee, Role::Owner, chrono::Duration::days(20));
    let refreshed = accounts.put_invitation(&again).await.expect("invite again");
    assert_eq!(refreshed.id, first.id);
    assert_eq!(refreshed.created_at, first.created_at);
    assert_eq!(
        (refreshed.role, refreshed.expires_at),
        (Role::Owner, again.expires_at)
    );
    assert_eq!(
        accounts.get_invitation(first.id).await.expect("get"),
        Some(refreshed.clone())
    );
    assert_eq!(accounts.get_invitation(again.id).await.expect("get"), None);

    // An unknown business is a NotFound of the business.
    let stray = Invitation {
        business_id: Uuid::now_v7(),
        ..invitation(
            "stray@invitee.test",
            Role::Member,
            chrono::Duration::days(1),
        )
    };
    assert!(matches!(
        accounts.put_invitation(&stray).await,
        Err(StoreError::NotFound {
            entity: Entity::Business,
            ..
        })
    ));

    // The addressee sees only invitations that have not expired; the business sees all.
    let lapsed_address = format!("{}@lapsed.test", Uuid::now_v7().simple());
    let lapsed = invitation(&lapsed_address, Role::Member, -chrono::Duration::hours(1));
    accounts.put_invitation(&lapsed).await.expect("lapsed");
    assert_eq!(
        accounts
            .invitations_to_email(&invitee, Utc::now())
            .await
            .expect("to invitee"),
        vec![refreshed.clone()]
    );
    assert!(
        accounts
            .invitations_to_email(&lapsed_address, Utc::now())
            .await
            .expect("to lapsed")
            .is_empty()
    );
    let of_business = accounts
        .invitations_of_business(b.id)
        .await
        .expect("of business");
    assert_eq!(
        of_business.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![first.id, lapsed.id]
    );

    // An expired invitation cannot be accepted: nothing changes.
    let member = User {
        id: Uuid::now_v7(),
        email: invitee.clone(),
        ..owner.clone()
    };
    accounts.insert_user(&member).await.expect("insert invitee");
    let membership = |role| Membership {
        business_id: b.id,
        user_id: member.id,
        role,
        created_at: Utc::now(),
    };
    assert!(
        !accounts
            .accept_invitation(lapsed.id, Utc::now(), &membership(Role::Member))
            .await
            .expect("accept lapsed")
    );
    assert_eq!(
        accounts
            .members_of_business(b.id)
            .await
            .expect("members")
            .len(),
        1
    );

    // Accepting takes the invitation and adds the member in one go; a second accept finds nothing.
    assert!(
        accounts
            .accept_invitation(first.id, Utc::now(), &membership(Role::Owner))
            .await
            .expect("accept")
    );
    assert!(
        !accounts
            .accept_invitation(first.id, Utc::now(), &membership(Role::Owner))
            .await
            .expect("accept twice")
    );
    let members = accounts.members_of_business(b.id).await.expect("members");
    assert!(
        members
            .iter()
            .any(|m| m.user_id == member.id && m.role == Role::Owner),
        "{members:?}"
    );
    assert_eq!(accounts.get_invitation(first.id).await.expect("get"), None);

    // Declining or revoking deletes; retention deletes what expired.
    let declined = invitation(
        "declines@invitee.test",
        Role::Member,
        chrono::Duration::days(1),
    );
    accounts.put_invitation(&declined).await.expect("invite");
    assert!(
        accounts
            .remove_invitation(declined.id)
            .await
            .expect("remove")
    );
    assert!(
        !accounts
            .remove_invitation(declined.id)
            .await
            .expect("again")
    );
    assert_eq!(
        accounts
            .purge_invitations_expired_before(Utc::now())
            .await
            .expect("purge"),
        1
    );
    assert_eq!(accounts.get_invitation(lapsed.id).await.expect("get"), None);

    // Invitations go with their business.
    let pending = invitation(
        "pending@invitee.test",
        Role::Member,
        chrono::Duration::days(1),
    );
    accounts.put_invitation(&pending).await.expect("invite");
    store.delete_business(b.id).await.expect("delete business");
    assert_eq!(
        accounts.get_invitation(pending.id).await.expect("get"),
        None
    );
}

async fn site_places_name_each_site_with_its_business_industry(store: &dyn Store) {
    let mut bakery = business("Bakery");
    bakery.industry = "C10.71".into();
    store.insert_business(&bakery).await.expect("business");
    let ovens = site(&bakery, 51.45, 7.01);
    let depot = site(&bakery, 51.50, 6.90);
    store.insert_site(&ovens).await.expect("site");
    store.insert_site(&depot).await.expect("site");
    let places = store.site_places().await.expect("site places");
    let ids: Vec<Uuid> = places.iter().map(|p| p.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in id order");
    for expected in [&ovens, &depot] {
        let place = places
            .iter()
            .find(|p| p.id == expected.id)
            .expect("every site is listed");
        assert_eq!(place.business_id, bakery.id);
        assert_eq!(place.location, expected.location);
        assert_eq!(place.industry, "C10.71");
    }
    store.delete_business(bakery.id).await.expect("delete");
    let places = store.site_places().await.expect("site places");
    assert!(!places.iter().any(|p| p.business_id == bakery.id));
}

/// A profile given as a schedule is stored as that schedule and reads back to the same 168
/// values, through every write and both reads; one given as hours stays hours.
async fn profiles_read_back_as_written(store: &dyn Store) {
    let owner = business("Schedules");
    store.insert_business(&owner).await.expect("business");
    let at = site(&owner, 51.2, 6.8);
    store.insert_site(&at).await.expect("site");
    let by_schedule = |schedule: &str| {
        let mut f = flow(&at, Direction::Offer);
        f.schedule = Some(schedule.into());
        f.profile = WeeklyProfile::parse_schedule(schedule).expect("schedule");
        f
    };
    let single = by_schedule("Mon-Fri 06:00-22:00; Sat 08:00-12:00 @0.5");
    let batched = by_schedule("24/7");
    let mut hours = flow(&at, Direction::Need);
    let mut values = [0.25f64; 168];
    values[3] = 0.125;
    hours.profile = WeeklyProfile::from_hours(&values).expect("hours");
    hours.schedule = None;
    store.insert_flow(&single).await.expect("flow");
    store
        .insert_batch(&[], &[], &[batched.clone(), hours.clone()])
        .await
        .expect("batch");
    let mut updated = single.clone();
    updated.schedule = Some("weekends".into());
    updated.profile = WeeklyProfile::parse_schedule("weekends").expect("schedule");
    updated.version += 1;
    store.update_flow(&updated).await.expect("update");
    for expected in [&updated, &batched, &hours] {
        let read = store
            .get_flow(expected.id)
            .await
            .expect("get")
            .expect("found");
        assert_eq!(read.profile, expected.profile);
        assert_eq!(read.schedule, expected.schedule);
    }
    let mut loaded = Vec::new();
    store
        .located_flows_in_batches(2, &mut |batch| {
            loaded.extend(batch.into_iter().map(|f| f.flow));
        })
        .await
        .expect("load");
    for expected in [&updated, &batched, &hours] {
        let read = loaded.iter().find(|f| f.id == expected.id).expect("loaded");
        assert_eq!(read.profile, expected.profile);
    }
    store.delete_business(owner.id).await.expect("delete");
}

async fn run_all(store: &dyn Store) {
    profiles_read_back_as_written(store).await;
    site_places_name_each_site_with_its_business_industry(store).await;
    accounts_tokens_keys_and_audit(store).await;
    invitations(store).await;
    account_lifecycle(store).await;
    anonymous_flows_are_left_out_for_others(store).await;
    writes_leave_their_events_in_the_outbox(store).await;
    decisions_keep_versions(store).await;
    store.ping().await.expect("ping");
    crud_and_versions(store).await;
    children_need_parents_and_cascade(store).await;
    pages_and_filters(store).await;
    a_failing_batch_writes_nothing(store).await;
}

#[tokio::test]
async fn sqlite_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).await.expect("open");
    run_all(&store).await;
    store.close().await;
}

/// Another local user must read neither the database (password hashes, token digests, the
/// generated signing secret) nor its WAL: the directory is 0700 and every file 0600, whatever the
/// umask, and a file an earlier version left world-readable is narrowed when opened.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_data_directory_and_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let store = SqliteStore::open(&data).await.expect("open");
    crud_and_versions(&store).await;
    assert_eq!(mode(&data), 0o700);
    for name in ["symbiont.db", "symbiont.db-wal", "symbiont.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    store.close().await;

    let old = data.join("symbiont.db");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = SqliteStore::open(&data).await.expect("reopen");
    assert_eq!(mode(&old), 0o600);
    store.close().await;
}

// ---- PostgreSQL + PostGIS ----

/// Runs `checks` against a `PostgresStore` on `SYMBIONT_TEST_POSTGRES_URL` (default: the loopback
/// server), in a throw-away database created for it and dropped afterwards, also when a check fails.
/// Without a server the checks are skipped, except under `CI=true`, where that fails.
async fn with_postgres_store<F, Fut>(checks: F)
where
    F: FnOnce(symbiont_store::postgres::PostgresStore) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use sqlx::Connection;
    let admin_url = std::env::var("SYMBIONT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("PostgreSQL is required under CI=true ({admin_url}): {e}")
        }
        Err(e) => return eprintln!("skipping: PostgreSQL unreachable at {admin_url} ({e})"),
    };
    let name = format!("symbiont_test_{}", Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    // Same server and options, other database: replace the path, keep any `?query`.
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url.as_str(), None), |(b, q)| (b, Some(q)));
    let server = match base.rsplit_once('/') {
        Some((server, _)) if server.contains("//") && !server.ends_with('/') => server,
        _ => base,
    };
    let url = match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    };
    // The checks run in their own task so a failing one still lets the database be dropped.
    let outcome = tokio::spawn(async move {
        let store = symbiont_store::postgres::PostgresStore::open(&url, 8)
            .await
            .expect("open the store (is PostGIS installed?)");
        checks(store).await;
    })
    .await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop database");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn postgres_store_meets_the_contract() {
    with_postgres_store(|store| async move {
        run_all(&store).await;
        store.close().await;
    })
    .await;
}

/// PostgreSQL has concurrent writers (SQLite has one): a delete that races with flow inserts under
/// it must still report every flow it took away, and an insert that loses the race is a plain
/// "site not found".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_deletes_report_flows_inserted_concurrently() {
    with_postgres_store(|store| async move {
        let store = std::sync::Arc::new(store);
        for round in 0..20 {
            let b = business("Racing");
            store.insert_business(&b).await.expect("insert");
            let s = site(&b, 50.0, 8.0);
            store.insert_site(&s).await.expect("insert site");
            let writers: Vec<_> = (0..4)
                .map(|_| {
                    let (store, s) = (store.clone(), s.clone());
                    tokio::spawn(async move {
                        let mut written = Vec::new();
                        loop {
                            let f = flow(&s, Direction::Offer);
                            match store.insert_flow(&f).await {
                                Ok(()) => written.push(f.id),
                                Err(StoreError::NotFound {
                                    entity: Entity::Site,
                                    ..
                                }) => return written,
                                Err(e) => panic!("insert lost the race with {e:?}"),
                            }
                        }
                    })
                })
                .collect();
            tokio::time::sleep(std::time::Duration::from_millis(5 + round % 5)).await;
            let removed = if round % 2 == 0 {
                store.delete_business(b.id).await.expect("delete business")
            } else {
                store.delete_site(s.id).await.expect("delete site")
            };
            for writer in writers {
                for id in writer.await.expect("writer") {
                    assert!(
                        removed.flow_ids.contains(&id),
                        "round {round}: flow {id} was written, then removed unreported"
                    );
                }
            }
        }
        store.close().await;
    })
    .await;
}

/// The bundled SQLite must keep R*Tree (site index) and FTS5 (search) compiled in.
#[tokio::test]
async fn bundled_sqlite_has_rtree_and_fts5() {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("memory db");
    sqlx::query("CREATE VIRTUAL TABLE r USING rtree(id, a, b)")
        .execute(&mut conn)
        .await
        .expect("R*Tree available");
    sqlx::query("CREATE VIRTUAL TABLE t USING fts5(body)")
        .execute(&mut conn)
        .await
        .expect("FTS5 available");
}
