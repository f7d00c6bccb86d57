"""Where records come from: files (``files``, ``follow``), CloudWatch Logs (``cloudwatch``)
and S3 (``s3``); ``uri`` turns a source argument into one. Firehose pushes arrive over
HTTP (``server.firehose``)."""
