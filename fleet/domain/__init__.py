"""Fleet domain, one package per context: {controllers, services, schemas}.py each."""
