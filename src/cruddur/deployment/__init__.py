"""Deploying to AWS from the repository: the CloudFormation template's reader (deploy/template.yaml),
the Lambda zips, and the change-set driver behind `cruddur deploy`."""
