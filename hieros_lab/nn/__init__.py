"""Neural-network building blocks shared by world models, actors and critics."""
