//! S3: the media bucket exists in the deployment's Region, blocks every kind of public access,
//! encrypts by default and expires media — the template's settings. The Region matters because
//! EUM writes customers' media only to a bucket in the WABA's Region.

use super::{Check, Fact, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRule {
    pub enabled: bool,
    /// No prefix, tag or size filter: it applies to every object.
    pub whole_bucket: bool,
    pub expiration_days: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The bucket's Region, when S3 says it.
    pub region: Fact<Option<String>>,
    /// `None`: no configuration at all.
    pub public_access_block: Fact<Option<PublicAccessBlock>>,
    /// The default encryption algorithm; `None`: no default encryption.
    pub encryption: Fact<Option<String>>,
    pub lifecycle: Fact<Vec<LifecycleRule>>,
}

pub fn checks(target: &Target, facts: &Facts) -> Vec<Check> {
    let name = &target.bucket;
    let title = format!("S3 bucket {name} exists in {}", target.region);
    let mut checks = vec![match &facts.region {
        Err(e) => {
            return vec![e.check(title, || {
                "set the bucket to the stack's MediaBucketName output, or deploy the stack (template.yaml creates it)"
                    .into()
            })];
        }
        Ok(Some(region)) if region != &target.region => Check::fail(
            title,
            format!("it is in {region}"),
            format!(
                "EUM writes media only to a bucket in the WABA's Region: deploy the stack in {region} or use a bucket in {}",
                target.region
            ),
        ),
        Ok(_) => Check::pass(title),
    }];
    let pab_title = format!("bucket {name} blocks public access");
    checks.push(match &facts.public_access_block {
        Err(e) => e.check(pab_title, String::new),
        Ok(Some(p))
            if p.block_public_acls && p.ignore_public_acls && p.block_public_policy && p.restrict_public_buckets =>
        {
            Check::pass(pab_title)
        }
        Ok(found) => Check::fail(
            pab_title,
            if found.is_some() {
                "some of the four public access block settings are off"
            } else {
                "it has no public access block"
            },
            format!(
                "aws s3api put-public-access-block --bucket {name} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
            ),
        ),
    });
    let sse_title = format!("bucket {name} encrypts objects by default");
    checks.push(match &facts.encryption {
        Err(e) => e.check(sse_title, String::new),
        Ok(Some(algorithm)) => Check::pass(format!("{sse_title} ({algorithm})")),
        Ok(None) => Check::fail(
            sse_title,
            "it has no default encryption",
            format!(
                "aws s3api put-bucket-encryption --bucket {name} --server-side-encryption-configuration '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"AES256\"}}}}]}}'"
            ),
        ),
    });
    let lifecycle_title = format!("bucket {name} expires media");
    checks.push(match &facts.lifecycle {
        Err(e) => e.check(lifecycle_title, String::new),
        Ok(rules) => {
            let days = rules
                .iter()
                .filter(|r| r.enabled && r.whole_bucket)
                .filter_map(|r| r.expiration_days)
                .min();
            match days {
                Some(1) => Check::pass(format!("{lifecycle_title} after 1 day")),
                Some(d) => Check::pass(format!("{lifecycle_title} after {d} days")),
                None => Check::fail(
                    lifecycle_title,
                    "no enabled lifecycle rule expires every object",
                    "redeploy the stack (MediaRetentionDays), or add an enabled rule with Expiration Days and an empty filter",
                ),
            }
        }
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};

    const ALL_BLOCKED: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    fn good() -> Facts {
        Facts {
            region: Ok(Some("us-east-1".into())),
            public_access_block: Ok(Some(ALL_BLOCKED)),
            encryption: Ok(Some("AES256".into())),
            lifecycle: Ok(vec![LifecycleRule {
                enabled: true,
                whole_bucket: true,
                expiration_days: Some(30),
            }]),
        }
    }

    fn lines(facts: &Facts) -> Vec<String> {
        let target = Target {
            bucket: "media".into(),
            ..Target::placeholder()
        };
        checks(&target, facts).iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_template_bucket_passes() {
        assert_eq!(
            lines(&good()),
            [
                "✔ S3 bucket media exists in us-east-1",
                "✔ bucket media blocks public access",
                "✔ bucket media encrypts objects by default (AES256)",
                "✔ bucket media expires media after 30 days",
            ]
        );
    }

    #[test]
    fn each_missing_setting_fails_with_its_command() {
        let f = Facts {
            region: Ok(Some("eu-west-1".into())),
            public_access_block: Ok(Some(PublicAccessBlock {
                restrict_public_buckets: false,
                ..ALL_BLOCKED
            })),
            encryption: Ok(None),
            lifecycle: Ok(vec![
                LifecycleRule {
                    enabled: false,
                    whole_bucket: true,
                    expiration_days: Some(30),
                },
                LifecycleRule {
                    enabled: true,
                    whole_bucket: false,
                    expiration_days: Some(7),
                },
            ]),
        };
        let lines = lines(&f);
        assert!(lines[0].contains("it is in eu-west-1"));
        assert!(lines[1].contains("put-public-access-block --bucket media"));
        assert!(lines[2].contains("put-bucket-encryption --bucket media"));
        assert!(lines[3].contains("no enabled lifecycle rule expires every object"));
        assert!(lines.iter().all(|l| l.starts_with('✘')));
    }

    #[test]
    fn a_missing_bucket_is_one_failure() {
        let mut f = good();
        f.region = Err(FetchError::new("s3:ListBucket", ErrorKind::NotFound, "404"));
        assert_eq!(lines(&f).len(), 1);
        f.region = Ok(None);
        f.public_access_block = Ok(None);
        assert!(lines(&f)[1].contains("it has no public access block"));
    }
}
