//! S3: `HeadBucket` (existence and Region), `GetPublicAccessBlock`, `GetBucketEncryption` and
//! `GetBucketLifecycleConfiguration`, concurrently. A bucket without one of those configurations
//! answers an error code; that is a fact (`None` / no rules), not a failed read.

use aws_sdk_s3::types::ExpirationStatus;

use super::{Clients, fetch_error};
use crate::doctor::bucket::{Facts, LifecycleRule, PublicAccessBlock};
use crate::doctor::{Fact, FetchError, Target};

/// `Ok(None)` when the error is S3 saying the configuration does not exist.
fn absent<T>(result: Fact<T>, code: &str) -> Fact<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(FetchError { code: Some(c), .. }) if c == code => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn facts(clients: &Clients, target: &Target) -> Facts {
    let s3 = &clients.s3;
    let bucket = &target.bucket;
    let (head, pab, sse, lifecycle) = tokio::join!(
        s3.head_bucket().bucket(bucket).send(),
        s3.get_public_access_block().bucket(bucket).send(),
        s3.get_bucket_encryption().bucket(bucket).send(),
        s3.get_bucket_lifecycle_configuration().bucket(bucket).send(),
    );
    let region = match head {
        Ok(out) => Ok(out.bucket_region().map(str::to_owned)),
        // A bucket in another Region answers 301 with its Region in a header.
        Err(e) => match e
            .raw_response()
            .filter(|r| r.status().as_u16() == 301)
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
        {
            Some(region) => Ok(Some(region.to_owned())),
            None => Err(fetch_error("s3:ListBucket", e)),
        },
    };
    let public_access_block = absent(
        pab.map_err(|e| fetch_error("s3:GetBucketPublicAccessBlock", e))
            .map(|out| {
                let c = out.public_access_block_configuration();
                let flag = |f: fn(&aws_sdk_s3::types::PublicAccessBlockConfiguration) -> Option<bool>| {
                    c.and_then(f).unwrap_or(false)
                };
                PublicAccessBlock {
                    block_public_acls: flag(|c| c.block_public_acls()),
                    ignore_public_acls: flag(|c| c.ignore_public_acls()),
                    block_public_policy: flag(|c| c.block_public_policy()),
                    restrict_public_buckets: flag(|c| c.restrict_public_buckets()),
                }
            }),
        "NoSuchPublicAccessBlockConfiguration",
    );
    let encryption = absent(
        sse.map_err(|e| fetch_error("s3:GetEncryptionConfiguration", e))
            .map(|out| {
                out.server_side_encryption_configuration()
                    .and_then(|c| {
                        c.rules()
                            .iter()
                            .find_map(|r| r.apply_server_side_encryption_by_default())
                    })
                    .map(|d| d.sse_algorithm().as_str().to_owned())
            }),
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    .map(Option::flatten);
    let lifecycle = absent(
        lifecycle
            .map_err(|e| fetch_error("s3:GetLifecycleConfiguration", e))
            .map(|out| {
                out.rules()
                    .iter()
                    .map(|r| {
                        let filter = r.filter();
                        // Rules written before `Filter` existed keep their scope in `Prefix`.
                        #[allow(deprecated)]
                        let no_prefix = r.prefix().unwrap_or("").is_empty()
                            && filter.and_then(|f| f.prefix()).unwrap_or("").is_empty();
                        let narrowed = filter.is_some_and(|f| {
                            f.tag().is_some()
                                || f.and().is_some()
                                || f.object_size_greater_than().is_some()
                                || f.object_size_less_than().is_some()
                        });
                        LifecycleRule {
                            enabled: r.status() == &ExpirationStatus::Enabled,
                            whole_bucket: no_prefix && !narrowed,
                            expiration_days: r.expiration().and_then(|e| e.days()),
                        }
                    })
                    .collect::<Vec<_>>()
            }),
        "NoSuchLifecycleConfiguration",
    )
    .map(Option::unwrap_or_default);
    Facts {
        region,
        public_access_block,
        encryption,
        lifecycle,
    }
}
