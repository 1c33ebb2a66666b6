// Project Settings > Plugins > Yume Bridge: where the daemon is and what to ask of it (shared with the
// team, in DefaultGame.ini), and Yume Bridge (this machine): the token, kept out of the project.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"

#include "YumeBridgeSettings.generated.h"

UCLASS(Config = Game, DefaultConfig, meta = (DisplayName = "Yume Bridge"))
class YUMEBRIDGE_API UYumeBridgeSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	UYumeBridgeSettings();

	/** Host of `yume-bridge serve`, used when Connect gets an empty host. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Daemon")
	FString DefaultHost = TEXT("127.0.0.1");

	/** UDP port of the daemon, used when Connect gets port 0. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Daemon", meta = (ClampMin = "1", ClampMax = "65535"))
	int32 DefaultPort = 47800;

	/** Refuse a daemon that does not authenticate the session (protects against a downgrade). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Daemon")
	bool bRequireAuthentication = false;

	/** Speak JSON instead of MessagePack (easier to read in a packet capture, a little larger). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Daemon")
	bool bUseJson = false;

	/** Wanted frame size; 0 lets the daemon choose. The daemon may choose another. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Stream", meta = (ClampMin = "0", ClampMax = "8192"))
	int32 RequestedWidth = 0;

	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Stream", meta = (ClampMin = "0", ClampMax = "8192"))
	int32 RequestedHeight = 0;

	/** Wanted playback rate; 0 lets the daemon choose (otherwise 1-240). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Stream", meta = (ClampMin = "0", ClampMax = "240"))
	float RequestedFps = 0.f;

	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Stream", meta = (ClampMin = "1", ClampMax = "100"))
	int32 JpegQuality = 85;

	/** Largest fragment datagram this client accepts; keep it under the path MTU (1200 is safe). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Stream", meta = (ClampMin = "576", ClampMax = "65000"))
	int32 MaxDatagram = 1200;

	/** Longest a frame waits for an older one still being repaired, in seconds (the protocol's playout
	 *  delay; it follows the measured repair time). 0 shows the newest complete frame at once. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Stream", meta = (ClampMin = "0", ClampMax = "0.25"))
	float MaxPlayoutDelay = 0.25f;

	/** UDP receive buffer; the protocol asks for at least 1 MiB. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Stream", meta = (ClampMin = "1048576"))
	int32 ReceiveBufferBytes = 4 * 1024 * 1024;

	/** First delay before reconnecting after a session ended for a reason retrying may cure, in seconds. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Reconnect", meta = (ClampMin = "0.1", ClampMax = "60"))
	float ReconnectInitialDelay = 1.f;

	/** The delay doubles after each failed attempt up to this, in seconds. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Reconnect", meta = (ClampMin = "1", ClampMax = "600"))
	float ReconnectMaxDelay = 30.f;

	virtual FName GetCategoryName() const override;

	static const UYumeBridgeSettings* Get();
};

/**
 * Settings of this machine only (Saved/Config/.../EditorPerProjectUserSettings.ini: never committed,
 * never packaged). A packaged game reads the token from Connect's argument or YUME_BRIDGE_TOKEN.
 */
UCLASS(Config = EditorPerProjectUserSettings, meta = (DisplayName = "Yume Bridge (this machine)"))
class YUMEBRIDGE_API UYumeBridgeUserSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	/**
	 * Token the daemon printed at start-up (needed when it is bound beyond loopback), used when
	 * Connect gets an empty token and YUME_BRIDGE_TOKEN is not set.
	 */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Daemon", meta = (PasswordField = true))
	FString Token;

	virtual FName GetCategoryName() const override;

	static const UYumeBridgeUserSettings* Get();
};
