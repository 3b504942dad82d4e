"""Code shared by the InnoCredit services: settings, database, errors, HTTP plumbing, auth."""
