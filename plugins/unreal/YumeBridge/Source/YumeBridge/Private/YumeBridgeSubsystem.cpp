#include "YumeBridgeSubsystem.h"

#include "YumeBridgeConnection.h"

UYumeBridgeConnection* UYumeBridgeSubsystem::GetConnection(FName Name)
{
	const FName Key = KeyOf(Name);
	if (TObjectPtr<UYumeBridgeConnection>* Existing = Connections.Find(Key))
	{
		return *Existing;
	}
	UYumeBridgeConnection* Connection = NewObject<UYumeBridgeConnection>(this, Key);
	Connections.Add(Key, Connection);
	return Connection;
}

void UYumeBridgeSubsystem::CloseConnection(FName Name)
{
	TObjectPtr<UYumeBridgeConnection> Connection;
	if (Connections.RemoveAndCopyValue(KeyOf(Name), Connection) && Connection != nullptr)
	{
		Connection->Disconnect();
	}
}

void UYumeBridgeSubsystem::Deinitialize()
{
	for (const TPair<FName, TObjectPtr<UYumeBridgeConnection>>& Entry : Connections)
	{
		if (Entry.Value != nullptr)
		{
			Entry.Value->Disconnect();
		}
	}
	Connections.Empty();
	Super::Deinitialize();
}

void UYumeBridgeSubsystem::Tick(float DeltaTime)
{
	// A copy: an event handler may open or close connections.
	TArray<UYumeBridgeConnection*> Snapshot;
	for (const TPair<FName, TObjectPtr<UYumeBridgeConnection>>& Entry : Connections)
	{
		Snapshot.Add(Entry.Value);
	}
	for (UYumeBridgeConnection* Connection : Snapshot)
	{
		if (IsValid(Connection))
		{
			Connection->Tick(DeltaTime);
		}
	}
}

TStatId UYumeBridgeSubsystem::GetStatId() const
{
	RETURN_QUICK_DECLARE_CYCLE_STAT(UYumeBridgeSubsystem, STATGROUP_Tickables);
}

ETickableTickType UYumeBridgeSubsystem::GetTickableTickType() const
{
	// The class default object never ticks; instances ask IsTickable.
	return IsTemplate() ? ETickableTickType::Never : ETickableTickType::Conditional;
}

bool UYumeBridgeSubsystem::IsTickable() const
{
	return Connections.Num() > 0;
}
