"""Where records come from: files now; CloudWatch Logs, S3 and Firehose pushes later."""
