"""The recipient registry and the deployment-wide deny-list, managed by admins."""
